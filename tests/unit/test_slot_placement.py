"""Slot placement (actors/directory.py even_targets, plan_moves) and slot ownership
(actors/slots.py): the rules the fleet directory and the shards follow, run here in-process
(in the suite they otherwise run inside Ray actor processes)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from actors.directory import even_targets, plan_moves
from actors.slots import Moved, SlotOwnership, SlotTable, shard_name, slot_of


def apply(owner: list[int], moves: list[tuple[int, int, list[int]]]) -> list[int]:
    after = list(owner)
    for src, dst, slots in moves:
        for slot in slots:
            assert after[slot] == src  # a move only takes slots from their owner
            after[slot] = dst
    return after


def test_targets_are_even_and_the_extra_slots_stay_where_most_are() -> None:
    assert even_targets({0: 6, 1: 4}, [0, 1, 2], 10) == {0: 4, 1: 3, 2: 3}
    # Shard 1 owns most: it keeps the one extra slot, so fewer slots move.
    assert even_targets({0: 2, 1: 8}, [0, 1, 2], 10) == {0: 3, 1: 4, 2: 3}
    # A removed shard (not kept) is asked to hold none.
    assert even_targets({0: 5, 1: 5}, [1], 10) == {0: 0, 1: 10}


def test_moves_reach_the_targets_moving_only_the_surplus() -> None:
    owner = [0] * 6 + [1] * 2
    targets = even_targets({0: 6, 1: 2}, [0, 1, 2], 8)
    moves = plan_moves(owner, targets)
    after = apply(owner, moves)
    assert {s: after.count(s) for s in targets} == targets
    # Targets {0: 3, 1: 3, 2: 2}: only shard 0's three slots above its target move.
    assert targets == {0: 3, 1: 3, 2: 2}
    assert sum(len(slots) for *_, slots in moves) == 3
    assert {src for src, *_ in moves} == {0}
    assert all(slots == sorted(slots) for *_, slots in moves)


def test_scaling_in_hands_every_slot_of_the_removed_shard_back() -> None:
    owner = [0, 1, 2, 0, 1, 2, 0, 1, 2]
    moves = plan_moves(owner, even_targets({0: 3, 1: 3, 2: 3}, [0, 1], 9))
    after = apply(owner, moves)
    assert 2 not in after
    assert sorted([after.count(0), after.count(1)]) == [4, 5]
    assert all(src == 2 for src, *_ in moves)


def test_a_balanced_table_needs_no_move() -> None:
    owner = [0, 1] * 4
    assert plan_moves(owner, even_targets({0: 4, 1: 4}, [0, 1], 8)) == []


def test_slots_are_stable_and_the_table_routes_by_them() -> None:
    org = uuid.UUID("6f1c1a7e-0000-4000-8000-000000000001")
    assert slot_of(org, 64) == slot_of(str(org), 64)
    assert 0 <= slot_of(org, 64) < 64
    table = SlotTable(3, [7] * 64, {7: "handle-7"})
    assert table.shard_id(org) == 7 and table.handle_for(org) == "handle-7"
    assert shard_name(3) == "fleet-shard-3"


async def test_a_held_slot_waits_then_answers_moved_once_released() -> None:
    org = uuid.uuid4()
    slots = SlotOwnership(8, wait_s=5.0)
    slots.adopt(set(range(8)), 1)
    assert await slots.check(org) is None and slots.answers_for(org)
    slots.hold({slots.slot(org)})
    assert not slots.answers_for(org)
    waiting = asyncio.ensure_future(slots.check(org))
    fan_out = asyncio.ensure_future(slots.check_all(1))
    await asyncio.sleep(0.02)
    assert not waiting.done() and not fan_out.done()
    slots.release({slots.slot(org)}, 2)
    assert await waiting == Moved(2)
    assert await fan_out == Moved(2)  # the caller's table (1) predates this change
    assert await slots.check_all(2) is None


async def test_a_hold_is_bounded_when_the_handover_never_ends() -> None:
    org = uuid.uuid4()
    slots = SlotOwnership(8, wait_s=0.05)
    slots.adopt(set(range(8)), 1)
    slots.hold({slots.slot(org)})
    # The directory died mid-move: the caller is let go, told to refresh.
    assert await asyncio.wait_for(slots.check(org), 2) == Moved(1)
    slots.resume({slots.slot(org)})  # called off: served here again
    assert await slots.check(org) is None


@pytest.mark.parametrize("count", [1, 3, 16])
def test_every_slot_gets_a_target_and_they_sum_to_all_slots(count: int) -> None:
    counts = {0: 64}
    targets = even_targets(counts, list(range(count)), 64)
    assert sum(targets.values()) == 64
    assert max(targets.values()) - min(v for s, v in targets.items() if s < count) <= 1
