"""The booking state machine as plain data: which status may follow which, and who may move it."""

from __future__ import annotations

from typing import Final, Literal, get_args

from persistence.statuses import BookingStatus

S = BookingStatus
Actor = Literal["customer", "driver", "mover_staff", "platform_admin", "system"]
ACTORS: Final[tuple[Actor, ...]] = get_args(Actor)

_STAFF: Final[frozenset[Actor]] = frozenset({"mover_staff", "system"})
_CREW: Final[frozenset[Actor]] = frozenset({"driver", "mover_staff", "system"})
_ANYONE_BOOKED: Final[frozenset[Actor]] = frozenset({"customer", "mover_staff", "system"})
_PARTIES: Final[frozenset[Actor]] = frozenset({"customer", "mover_staff"})

# (from, to) -> the actors allowed to make that move. Platform admins may make any listed move.
TRANSITIONS: Final[dict[tuple[BookingStatus, BookingStatus], frozenset[Actor]]] = {
    (S.PENDING, S.CONFIRMED): _STAFF,
    (S.PENDING, S.CANCELLED): _ANYONE_BOOKED,
    (S.CONFIRMED, S.ASSIGNED): _STAFF,
    (S.CONFIRMED, S.CANCELLED): _ANYONE_BOOKED,
    (S.ASSIGNED, S.CONFIRMED): _STAFF,  # unassigned
    (S.ASSIGNED, S.EN_ROUTE): _CREW,
    (S.ASSIGNED, S.CANCELLED): _ANYONE_BOOKED,
    (S.EN_ROUTE, S.ARRIVED): _CREW,
    (S.EN_ROUTE, S.CANCELLED): _STAFF,
    (S.ARRIVED, S.LOADING): _CREW,
    (S.ARRIVED, S.NO_SHOW): _CREW,
    (S.LOADING, S.IN_TRANSIT): _CREW,
    (S.IN_TRANSIT, S.UNLOADING): _CREW,
    (S.UNLOADING, S.COMPLETED): _CREW,
    (S.COMPLETED, S.DISPUTED): _PARTIES,
    (S.NO_SHOW, S.DISPUTED): _PARTIES,
    (S.DISPUTED, S.COMPLETED): frozenset({"system"}),
    (S.DISPUTED, S.CANCELLED): frozenset({"system"}),
}


def actor_for_role(role: str) -> Actor:
    """Map an authenticated role onto the state machine's actors."""
    if role in ("mover_admin", "dispatcher"):
        return "mover_staff"
    if role in ("customer", "driver", "platform_admin", "system"):
        return role  # type: ignore[return-value]
    raise ValueError(f"unknown role {role!r}")


def allowed_next(current: str, actor: Actor) -> list[BookingStatus]:
    """The statuses `actor` may move a booking in `current` to, in lifecycle order."""
    state = BookingStatus(current)  # a row's status is a plain string (one of the enum's)
    return [
        to
        for to in BookingStatus
        if (state, to) in TRANSITIONS and (actor == "platform_admin" or actor in TRANSITIONS[(state, to)])
    ]


def can_transition(current: str, target: str, actor: Actor) -> bool:
    return target in allowed_next(current, actor)


def moves() -> dict[BookingStatus, dict[BookingStatus, list[Actor]]]:
    """Every status (lifecycle order) -> the statuses it may move to -> the actors listed for
    that move (in `Actor` order; platform admins may make any listed move besides)."""
    return {
        current: {
            to: [actor for actor in ACTORS if actor in TRANSITIONS[(current, to)]]
            for to in BookingStatus
            if (current, to) in TRANSITIONS
        }
        for current in BookingStatus
    }
