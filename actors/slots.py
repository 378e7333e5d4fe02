"""Slots: organizations hash onto a fixed number of them; a shard owns some and hands them over.

A slot's owner is the only shard that answers for its organizations. While a slot moves, its
old owner holds every call for it (pings included) until the handover ends, then answers
`Moved(version)`: the caller refreshes its slot table to that version and sends again to the
new owner. Nothing is retried by Ray and nothing is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import uuid
import zlib
from dataclasses import dataclass
from typing import Any


@functools.lru_cache(maxsize=65_536)  # asked once per ping on the ingest path
def slot_of(org_id: uuid.UUID | str, slots: int) -> int:
    """Stable across processes and machines (Python's hash() is salted per process)."""
    return zlib.crc32(uuid.UUID(str(org_id)).bytes) % slots


@dataclass(frozen=True)
class Moved:
    """A shard's answer when it does not own the slot (any more): the slot table changed at
    `version`; refresh to at least that version and send again."""

    version: int


class SlotOwnership:
    """The slots one shard owns, the table version it last changed at, and the slots it is
    handing over right now (each with an event set when the handover ends)."""

    def __init__(self, slots: int, wait_s: float) -> None:
        self.slots, self.wait_s = slots, wait_s
        self.owned: set[int] = set()
        self.version = 0
        self._moving: dict[int, asyncio.Event] = {}

    def slot(self, org_id: uuid.UUID | str) -> int:
        return slot_of(org_id, self.slots)

    def answers_for(self, org_id: uuid.UUID | str) -> bool:
        slot = slot_of(org_id, self.slots)
        return slot in self.owned and slot not in self._moving

    async def check(self, org_id: uuid.UUID | str) -> Moved | None:
        """None when this shard answers for the organization; a move in progress is waited
        out first (that wait is the pause callers see)."""
        event = self._moving.get(slot_of(org_id, self.slots))
        if event is not None:
            await self._wait([event])
        return None if self.answers_for(org_id) else Moved(self.version)

    async def check_all(self, caller_version: int) -> Moved | None:
        """For fan-outs over every shard: a caller whose table predates this shard's last
        change may be missing a shard, so it must refresh and ask again."""
        if self._moving:
            await self._wait(list(self._moving.values()))
        return Moved(self.version) if self.version > caller_version else None

    async def _wait(self, events: list[asyncio.Event]) -> None:
        # Bounded: a directory that died mid-move must not hang callers for ever (they get
        # Moved, refresh, and find the slot still here).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), self.wait_s)

    def hold(self, slots: set[int]) -> None:
        for slot in slots & self.owned:
            self._moving.setdefault(slot, asyncio.Event())

    def adopt(self, slots: set[int], version: int) -> None:
        self.owned |= slots
        self.version = max(self.version, version)

    def release(self, slots: set[int], version: int) -> None:
        self.owned -= slots
        self.version = max(self.version, version)
        self.resume(slots)

    def resume(self, slots: set[int]) -> None:
        """End the hold on these slots (released, or the move was called off)."""
        for slot in slots:
            event = self._moving.pop(slot, None)
            if event is not None:
                event.set()


DIRECTORY_NAME = "fleet-directory"
SHARD_RESOURCE = "fleet_shard"  # shard actors ask for one; the autoscaler sees the demand


def shard_name(shard_id: int) -> str:
    return f"fleet-shard-{shard_id}"


@dataclass
class SlotTable:
    """One version of the slot-to-shard table, as the directory hands it out: `owner[slot]`
    is a shard id, `handles[shard id]` its actor handle."""

    version: int
    owner: list[int]
    handles: dict[int, Any]

    def shard_id(self, org_id: uuid.UUID | str) -> int:
        return self.owner[slot_of(org_id, len(self.owner))]

    def handle_for(self, org_id: uuid.UUID | str) -> Any:
        return self.handles[self.shard_id(org_id)]
