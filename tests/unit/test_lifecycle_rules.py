"""The booking state machine, exhaustively: every pair of statuses for every actor."""

import itertools

import pytest

from dispatch.lifecycle.rules import (
    TRANSITIONS,
    actor_for_role,
    allowed_next,
    can_transition,
    moves,
)
from persistence.statuses import BookingStatus

STATUSES = tuple(BookingStatus)

ACTORS = ("customer", "driver", "mover_staff", "platform_admin", "system")


@pytest.mark.parametrize("actor", ACTORS)
def test_every_pair_matches_the_table(actor: str) -> None:
    for current, target in itertools.product(STATUSES, STATUSES):
        listed = (current, target) in TRANSITIONS
        expected = listed and (actor == "platform_admin" or actor in TRANSITIONS[(current, target)])
        assert can_transition(current, target, actor) is expected, (current, target, actor)  # type: ignore[arg-type]


def test_happy_path_is_walkable_by_the_crew() -> None:
    path = ["assigned", "en_route", "arrived", "loading", "in_transit", "unloading", "completed"]
    for current, target in itertools.pairwise(path):
        assert can_transition(current, target, "driver")  # type: ignore[arg-type]
    assert can_transition("pending", "confirmed", "mover_staff")
    assert not can_transition("pending", "confirmed", "customer")


def test_cancelled_is_terminal_and_no_self_loops() -> None:
    for actor in ACTORS:
        assert allowed_next("cancelled", actor) == []  # type: ignore[arg-type]
        for status in STATUSES:
            assert not can_transition(status, status, actor)  # type: ignore[arg-type]


def test_customers_cannot_cancel_a_started_move() -> None:
    assert not can_transition("en_route", "cancelled", "customer")
    assert can_transition("assigned", "cancelled", "customer")


def test_roles_map_onto_actors() -> None:
    assert actor_for_role("dispatcher") == actor_for_role("mover_admin") == "mover_staff"
    with pytest.raises(ValueError):
        actor_for_role("janitor")


def test_moves_list_every_status_and_exactly_the_table() -> None:
    table = moves()
    assert list(table) == list(BookingStatus)
    listed = {
        (current, target): set(actors)
        for current, targets in table.items()
        for target, actors in targets.items()
    }
    assert listed == {pair: set(actors) for pair, actors in TRANSITIONS.items()}
    assert table[BookingStatus.CANCELLED] == {}
    assert table[BookingStatus.PENDING][BookingStatus.CONFIRMED] == ["mover_staff", "system"]
