"""The board hub of one gateway replica: rooms per organization holding its boards and driver
sockets, one reader of the org event streams (XREAD BLOCK over every org served here), the
position diffs from the bus, and the ~100 ms tick that coalesces both into frames.

A board link has a bounded queue of frames; the tick only ever appends to it, so a slow board
never holds up the others. When the queue is full the link drops everything and is sent a
fresh snapshot instead (the connection's sender task does the sending).

Each room follows one epoch of its org's stream (persistence.events). When the stream is lost
and starts again under a new epoch, the reader's cursor would sit above every new sequence:
the room resets to the new epoch at cursor 0 and its boards are sent fresh snapshots. The
reader learns of a new epoch from the entries it reads, from a check of every room's stream
head each EPOCH_CHECK_S, or at once when a board's sender saw a head the room does not know.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import orjson
import structlog

from persistence import events

log = structlog.get_logger("movehub.realtime.hub")
RECENT_EVENTS = 2000
READ_BLOCK_MS = 250
EPOCH_CHECK_S = 1.0
# Outbox topics whose protocol name differs (docs/realtime-protocol.md, board events).
KINDS = {"booking.status_changed": "booking.status"}
Mode = Literal["snapshot", "replay", "live"]
ProtocolEvent = tuple[int, dict[str, Any]]


def to_protocol(seq: int, event: dict[str, Any]) -> dict[str, Any]:
    """A stream entry as a board event: {seq, kind, data, ts}."""
    topic = str(event.get("type", "unknown"))
    data = event.get("data")
    if not isinstance(data, dict):
        data = {k: v for k, v in event.items() if k not in ("type", "ts")}
    elif "outbox_id" in event:
        data = {**data, "outbox_id": event["outbox_id"]}
    return {"seq": seq, "kind": KINDS.get(topic, topic), "data": data, "ts": event.get("ts")}


def frame(payload: dict[str, Any]) -> str:
    return orjson.dumps(payload).decode()


class DriverListener(Protocol):
    def on_event(self, event: dict[str, Any]) -> None: ...


class BoardLink:
    """One board connection's outbound side: bounded frame queue, cursor, and mode."""

    def __init__(self, org_id: uuid.UUID, limit: int) -> None:
        self.org_id, self.limit = org_id, limit
        self.queue: deque[str] = deque()
        self.wake = asyncio.Event()
        self.cursor = 0  # last event seq this board has been given
        self.epoch: str | None = None  # the stream epoch that cursor belongs to
        self.mode: Mode = "snapshot"
        self.drops = 0

    def offer(self, text: str) -> None:
        if self.mode == "snapshot":
            return  # a snapshot is coming: older frames would be stale
        if len(self.queue) >= self.limit:
            self.drop_to_snapshot()
            return
        self.queue.append(text)
        self.wake.set()

    def drop_to_snapshot(self) -> None:
        self.restart()
        self.drops += 1

    def restart(self) -> None:
        """Queued frames are void: the board gets a fresh snapshot next."""
        self.queue.clear()
        self.mode = "snapshot"
        self.wake.set()

    def resume(self, since: int, epoch: str | None) -> None:
        self.queue.clear()
        self.cursor, self.epoch, self.mode = since, epoch, "replay"
        self.wake.set()


@dataclass
class Room:
    org_id: uuid.UUID
    last_seq: int
    ticked: int
    epoch: str
    boards: set[BoardLink] = field(default_factory=set)
    drivers: dict[str, set[DriverListener]] = field(default_factory=dict)
    recent: deque[ProtocolEvent] = field(default_factory=lambda: deque(maxlen=RECENT_EVENTS))
    fresh: list[ProtocolEvent] = field(default_factory=list)
    changed: dict[str, dict[str, Any]] = field(default_factory=dict)
    latest: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.boards and not self.drivers

    def since(self, cursor: int) -> list[ProtocolEvent] | None:
        """Recent events after `cursor`; None when they no longer reach back that far."""
        pending = [e for e in self.recent if e[0] > cursor]
        if pending and pending[0][0] != cursor + 1:
            return None
        return pending


class BoardHub:
    def __init__(self, tick_ms: float, queue_frames: int) -> None:
        self.tick_s = tick_ms / 1000
        self.queue_frames = queue_frames
        self.rooms: dict[uuid.UUID, Room] = {}
        self._joining: dict[uuid.UUID, asyncio.Lock] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.ticks = 0
        self.dropped = 0  # snapshot drops of boards gone since
        self.epoch_resets = 0
        self._check_now = asyncio.Event()  # a sender saw a stream head the room does not know
        self._checked = 0.0

    # ---- membership ----------------------------------------------------------------------
    async def room(self, org_id: uuid.UUID) -> Room:
        room = self.rooms.get(org_id)
        if room is not None:
            return room
        lock = self._joining.setdefault(org_id, asyncio.Lock())
        async with lock:
            if org_id not in self.rooms:
                seq, epoch = await events.head(org_id)
                self.rooms[org_id] = Room(org_id=org_id, last_seq=seq, ticked=seq, epoch=epoch)
        return self.rooms[org_id]

    async def add_board(self, org_id: uuid.UUID) -> BoardLink:
        room = await self.room(org_id)
        link = BoardLink(org_id, self.queue_frames)
        room.boards.add(link)
        return link

    def remove_board(self, link: BoardLink) -> None:
        self.dropped += link.drops
        room = self.rooms.get(link.org_id)
        if room is not None:
            room.boards.discard(link)
            self._maybe_close(room)

    async def add_driver(self, org_id: uuid.UUID, driver_id: str,
                         listener: DriverListener) -> None:
        room = await self.room(org_id)
        room.drivers.setdefault(driver_id, set()).add(listener)

    def remove_driver(self, org_id: uuid.UUID, driver_id: str, listener: DriverListener) -> None:
        room = self.rooms.get(org_id)
        if room is None:
            return
        listeners = room.drivers.get(driver_id, set())
        listeners.discard(listener)
        if not listeners:
            room.drivers.pop(driver_id, None)
        self._maybe_close(room)

    def _maybe_close(self, room: Room) -> None:
        if room.empty:
            self.rooms.pop(room.org_id, None)

    def latest_positions(self, org_id: uuid.UUID) -> dict[str, dict[str, Any]]:
        room = self.rooms.get(org_id)
        return room.latest if room else {}

    def epoch_of(self, org_id: uuid.UUID) -> str | None:
        room = self.rooms.get(org_id)
        return room.epoch if room else None

    async def agree(self, org_id: uuid.UUID, epoch: str, wait_s: float = 3.0) -> bool:
        """Wait (briefly) until the room follows `epoch`, a head a board's sender just read:
        a board must not go live on an epoch its room does not follow."""
        deadline = time.monotonic() + wait_s
        while self.epoch_of(org_id) not in (epoch, None):
            if time.monotonic() >= deadline:
                return False
            self._check_now.set()
            await asyncio.sleep(0.05)
        return True

    # ---- inputs --------------------------------------------------------------------------
    def on_positions(self, org_id: uuid.UUID, diffs: list[dict[str, Any]]) -> None:
        room = self.rooms.get(org_id)
        if room is None:
            return
        for diff in diffs:
            merged = room.latest.get(diff["id"], {})
            merged.update(diff)
            room.latest[diff["id"]] = merged
            if room.boards:
                room.changed[diff["id"]] = merged

    def new_epoch(self, room: Room, epoch: str) -> None:
        """The org's stream started again: follow it from its first event; boards resnapshot."""
        log.warning("hub.stream_epoch_changed", org_id=str(room.org_id), old=room.epoch,
                    new=epoch, last_seq=room.last_seq)
        room.epoch, room.last_seq, room.ticked = epoch, 0, 0
        room.recent.clear()
        room.fresh.clear()
        self.epoch_resets += 1
        for link in list(room.boards):
            link.restart()

    def on_event(self, org_id: uuid.UUID, seq: int, event: dict[str, Any],
                 epoch: str | None = None) -> bool:
        """Take one event; False when it belongs to a new epoch (the room restarted)."""
        room = self.rooms.get(org_id)
        if room is None:
            return True
        if epoch is not None and epoch != room.epoch:
            self.new_epoch(room, epoch)
            return False
        if seq <= room.last_seq:
            return True
        if seq != room.last_seq + 1:
            room.recent.clear()  # the stream was trimmed under us: boards replay or resnapshot
        proto = to_protocol(seq, event)
        room.recent.append((seq, proto))
        room.fresh.append((seq, proto))
        room.last_seq = seq
        for listeners in list(room.drivers.values()):
            for listener in list(listeners):
                listener.on_event(proto)
        return True

    async def check_epochs(self) -> None:
        """Compare every room's epoch with its stream's head (one round trip)."""
        self._check_now.clear()
        self._checked = time.monotonic()
        for org_id, now in (await events.heads(list(self.rooms))).items():
            room = self.rooms.get(org_id)
            if room is not None and now.epoch != room.epoch:
                self.new_epoch(room, now.epoch)

    async def _read_events(self) -> None:
        while True:
            try:
                if (self._check_now.is_set()
                        or time.monotonic() - self._checked >= EPOCH_CHECK_S):
                    await self.check_epochs()
                cursors = {org: room.last_seq for org, room in self.rooms.items()}
                found = await events.read_new(cursors, READ_BLOCK_MS)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("hub.read_failed")
                await asyncio.sleep(1.0)
                continue
            restarted: set[uuid.UUID] = set()
            for entry in found:  # after a restart, the org is re-read from its new start
                if entry.org_id not in restarted and not self.on_event(
                        entry.org_id, entry.seq, entry.event, entry.epoch):
                    restarted.add(entry.org_id)

    # ---- the tick ------------------------------------------------------------------------
    def tick(self) -> None:
        self.ticks += 1
        for room in list(self.rooms.values()):
            fresh, room.fresh = room.fresh, []
            changed, room.changed = room.changed, {}
            if room.boards:
                self._tick_room(room, fresh, list(changed.values()))
            room.ticked = room.last_seq

    def _tick_room(self, room: Room, fresh: list[ProtocolEvent],
                   changed: list[dict[str, Any]]) -> None:
        shared_events = frame({"type": "events", "epoch": room.epoch,
                               "events": [e for _, e in fresh]}) if fresh else ""
        shared_tick = (frame({"type": "tick", "seq": room.last_seq, "epoch": room.epoch,
                              "drivers": changed}) if changed else "")
        for link in list(room.boards):
            if link.mode == "live" and link.epoch != room.epoch:
                link.restart()  # went live on an epoch the room has left since
            if link.mode == "live" and link.cursor < room.last_seq:
                if fresh and link.cursor == room.ticked:
                    link.offer(shared_events)
                    link.cursor = room.last_seq
                else:
                    pending = room.since(link.cursor)
                    if pending is None:
                        link.mode = "replay"  # the sender reads the gap from the stream
                        link.wake.set()
                    elif pending:
                        link.offer(frame({"type": "events", "epoch": room.epoch,
                                          "events": [e for _, e in pending]}))
                        link.cursor = pending[-1][0]
            if changed and link.mode == "live":
                link.offer(shared_tick if link.cursor == room.last_seq else frame(
                    {"type": "tick", "seq": link.cursor, "epoch": room.epoch,
                     "drivers": changed}))

    async def _tick_forever(self) -> None:
        while True:
            started = time.monotonic()
            try:
                self.tick()
            except Exception:
                log.exception("hub.tick_failed")
            await asyncio.sleep(max(0.0, self.tick_s - (time.monotonic() - started)))

    def stats(self) -> dict[str, Any]:
        boards = [link for room in self.rooms.values() for link in room.boards]
        return {"rooms": len(self.rooms), "boards": len(boards),
                "drivers": sum(len(r.drivers) for r in self.rooms.values()),
                "queued_frames_max": max((len(b.queue) for b in boards), default=0),
                "snapshot_drops": self.dropped + sum(b.drops for b in boards),
                "epoch_resets": self.epoch_resets,
                "ticks": self.ticks}

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._read_events(), name="hub-events"),
                       asyncio.create_task(self._tick_forever(), name="hub-tick")]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
