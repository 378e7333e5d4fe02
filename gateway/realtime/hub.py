"""The board hub of one gateway replica: rooms per organization holding its boards and driver
sockets, one reader of the org event streams (XREAD BLOCK over every org served here), the
position diffs from the bus, and the ~100 ms tick that coalesces both into frames.

Each tick encodes an org's frames once and writes them to its boards itself, straight to each
socket (connection.Outlet: no coroutine per frame). A board link holds back what its socket
does not take right now: events frames in a bounded queue, in order and never dropped one by
one (when the queue is full the board is sent a fresh snapshot instead), and at most ONE
pending tick: a newer tick merges into it (the union of the drivers, each at its newest
position), so a lagging board never drains stale ticks. One watchdog (in the tick) closes a
board whose socket has taken nothing for `ws_send_timeout_s` while it had frames due (1013).

Each room follows one epoch of its org's stream (persistence.events). When the stream is lost
and starts again under a new epoch, the reader's cursor would sit above every new sequence:
the room resets to the new epoch at cursor 0 and its boards are sent fresh snapshots. The
reader learns of a new epoch from the entries it reads, from a check of every room's stream
head each EPOCH_CHECK_S, or at once when a board's sender saw a head the room does not know.

Benchmark stamps: pings stamped by the driver socket (`rx`, only with realtime stats on) come
with `ap` (published after the shard call, bus.py); the hub adds `hb` when it hears them and
the tick frame says when it was `built`; the hub keeps how long after that each board's write
happened (HopStats), so a tail can be put on its hop.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import orjson
import structlog

from gateway.realtime.connection import Closing, Outgoing, Outlet
from persistence import events, metrics

log = structlog.get_logger("movehub.realtime.hub")
RECENT_EVENTS = 2000
READ_BLOCK_MS = 250
EPOCH_CHECK_S = 1.0
WATCH_S = 0.5  # how often the watchdog looks for stalled boards
STALL_POLL_S = 0.05  # a snapshot or replay page waiting for its socket looks this often
SLOW_CONSUMER = (1013, "slow consumer: reconnect with since and epoch")
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


class HopStats:
    """Benchmark stamps: per tick write, how long after the frame was built the board's socket
    was given it; and how long each tick took."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.sent_ms: deque[float] = deque(maxlen=500_000)
        self.tick_ms: deque[float] = deque(maxlen=100_000)
        self.merged = 0  # ticks merged into a pending one (boards behind their socket)

    def summary(self) -> dict[str, Any]:
        def pct(samples: deque[float], q: float) -> float | None:
            return round(float(np.percentile(np.fromiter(samples, float), q)), 2) if samples else None

        return {
            "sent_after_build_p50_ms": pct(self.sent_ms, 50),
            "sent_after_build_p99_ms": pct(self.sent_ms, 99),
            "sent_after_build_max_ms": pct(self.sent_ms, 100),
            "tick_p50_ms": pct(self.tick_ms, 50),
            "tick_p99_ms": pct(self.tick_ms, 99),
            "tick_max_ms": pct(self.tick_ms, 100),
            "ticks_merged": self.merged,
            "writes": len(self.sent_ms),
        }


class BoardLink:
    """One board connection's outbound side: what its socket has not taken yet (a bounded
    queue of events frames and at most one pending tick), cursor, and mode."""

    def __init__(
        self, org_id: uuid.UUID, limit: int, outlet: Outlet | None = None, hops: HopStats | None = None
    ) -> None:
        self.org_id, self.limit, self.outlet, self.hops = org_id, limit, outlet, hops
        self.queue: deque[Outgoing] = deque()
        # The pending tick: its drivers (id -> newest state) and, unless merged, its frame.
        self.tick_drivers: dict[str, dict[str, Any]] | None = None
        self.tick_frame: Outgoing | None = None
        self.wake = asyncio.Event()
        self.cursor = 0  # last event seq this board has been given
        self.epoch: str | None = None  # the stream epoch that cursor belongs to
        self.mode: Mode = "snapshot"
        self.drops = 0
        self.timeout_s = 10.0  # the board's ws_send_timeout_s
        self.stalled_at: float | None = None  # since when its socket took nothing that was due
        self.failure: Closing | None = None  # set by the watchdog; the sender raises it

    @property
    def backlog(self) -> bool:
        return bool(self.queue) or self.tick_drivers is not None

    def offer(self, frame: Outgoing) -> None:
        """An events frame: queued in order behind what the socket has not taken yet."""
        if self.mode == "snapshot":
            return  # a snapshot is coming: older frames would be stale
        if len(self.queue) >= self.limit:
            self.drop_to_snapshot()
            return
        self.queue.append(frame)
        self.tick_frame = None  # a pending tick now goes after this: it names the new cursor

    def offer_tick(self, frame: Outgoing | None, drivers: dict[str, dict[str, Any]]) -> None:
        """A tick (frame None: encode it for this board when written). A tick still pending
        absorbs it: one frame with both ticks' drivers, each at its newest state."""
        if self.tick_drivers is None:
            self.tick_drivers, self.tick_frame = drivers, frame
            return
        self.tick_drivers = {**self.tick_drivers, **drivers}
        self.tick_frame = None
        if self.hops is not None:
            self.hops.merged += 1

    def say(self, frame: Outgoing) -> None:
        """A reply to the board (heartbeat, error): behind what is queued, sent when live."""
        self.queue.append(frame)
        self.flush()
        self.wake.set()

    def flush(self) -> None:
        """Write what is due while the socket takes it: the queue in order, then the tick.
        Never waits; what the socket does not take stays for the next tick."""
        outlet = self.outlet
        if outlet is None or self.mode != "live" or not self.backlog:
            return
        wrote = False
        while self.queue:
            if not outlet.writable():
                self._stalled(wrote)
                return
            outlet.write(self.queue.popleft())
            wrote = True
        if self.tick_drivers is not None:
            if not outlet.writable():
                self._stalled(wrote)
                return
            frame = self.tick_frame
            if frame is None:  # merged, or behind the room: this board's own tick frame
                built = time.time() if self.hops is not None else 0.0
                frame = Outgoing.of(
                    {
                        "type": "tick",
                        "seq": self.cursor,
                        "epoch": self.epoch,
                        "drivers": list(self.tick_drivers.values()),
                        **({"built": built} if built else {}),
                    },
                    built,
                )
            self.tick_drivers = self.tick_frame = None
            outlet.write(frame)
            if self.hops is not None and frame.built:
                self.hops.sent_ms.append((time.time() - frame.built) * 1000)
        self.stalled_at = None

    def _stalled(self, wrote: bool) -> None:
        if wrote or self.stalled_at is None:
            self.stalled_at = time.monotonic()

    async def send_now(self, frame: Outgoing) -> None:
        """The sender's own frames (snapshot, replayed pages): once the socket takes more,
        written at once, so nothing the tick writes can come between. Waits for a stalled
        socket until the watchdog gives up on it."""
        assert self.outlet is not None
        while not self.outlet.writable():
            if self.failure is not None:
                raise self.failure
            if self.stalled_at is None:
                self.stalled_at = time.monotonic()
            await asyncio.sleep(STALL_POLL_S)
        self.stalled_at = None
        self.outlet.write(frame)

    def check(self) -> None:
        if self.failure is not None:
            raise self.failure

    def watch(self, now: float) -> None:
        """The watchdog's look: a socket that took nothing due for timeout_s is given up."""
        if self.stalled_at is not None and self.failure is None and now - self.stalled_at >= self.timeout_s:
            self.failure = Closing(*SLOW_CONSUMER)
            self.wake.set()

    def drop_to_snapshot(self) -> None:
        self.restart()
        self.drops += 1
        metrics.BOARD_DROPS.inc()

    def clear(self) -> None:
        self.queue.clear()
        self.tick_drivers = self.tick_frame = None

    def restart(self) -> None:
        """Queued frames are void: the board gets a fresh snapshot next."""
        self.clear()
        self.mode = "snapshot"
        self.wake.set()

    def resume(self, since: int, epoch: str | None) -> None:
        self.clear()
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
        self._watched = 0.0
        self.hops: HopStats | None = None  # benchmark stamps: on once a stamped diff arrives

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

    async def add_board(self, org_id: uuid.UUID, outlet: Outlet | None = None) -> BoardLink:
        room = await self.room(org_id)
        link = BoardLink(org_id, self.queue_frames, outlet, self.hops)
        room.boards.add(link)
        return link

    def remove_board(self, link: BoardLink) -> None:
        self.dropped += link.drops
        room = self.rooms.get(link.org_id)
        if room is not None:
            room.boards.discard(link)
            self._maybe_close(room)

    async def add_driver(self, org_id: uuid.UUID, driver_id: str, listener: DriverListener) -> None:
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
        if diffs and "rx" in diffs[0]:  # a benchmark's stamped pings (realtime stats on)
            heard = time.time()
            if self.hops is None:
                self.hops = HopStats()
                for link in (b for r in self.rooms.values() for b in r.boards):
                    link.hops = self.hops
            for diff in diffs:
                diff["hb"] = heard
        for diff in diffs:
            merged = room.latest.get(diff["id"], {})
            merged.update(diff)
            room.latest[diff["id"]] = merged
            if room.boards:
                room.changed[diff["id"]] = merged

    def new_epoch(self, room: Room, epoch: str) -> None:
        """The org's stream started again: follow it from its first event; boards resnapshot."""
        log.warning(
            "hub.stream_epoch_changed",
            org_id=str(room.org_id),
            old=room.epoch,
            new=epoch,
            last_seq=room.last_seq,
        )
        room.epoch, room.last_seq, room.ticked = epoch, 0, 0
        room.recent.clear()
        room.fresh.clear()
        self.epoch_resets += 1
        for link in list(room.boards):
            link.restart()

    def on_event(self, org_id: uuid.UUID, seq: int, event: dict[str, Any], epoch: str | None = None) -> bool:
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
                if self._check_now.is_set() or time.monotonic() - self._checked >= EPOCH_CHECK_S:
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
                    entry.org_id, entry.seq, entry.event, entry.epoch
                ):
                    restarted.add(entry.org_id)

    # ---- the tick ------------------------------------------------------------------------
    def tick(self) -> None:
        self.ticks += 1
        started = time.perf_counter()
        for room in list(self.rooms.values()):
            fresh, room.fresh = room.fresh, []
            changed, room.changed = room.changed, {}
            if room.boards:
                self._tick_room(room, fresh, changed)
                metrics.fanned_out(fresh)
            room.ticked = room.last_seq
        now = time.monotonic()
        if now - self._watched >= WATCH_S:
            self.watch(now)
        if self.hops is not None:
            self.hops.tick_ms.append((time.perf_counter() - started) * 1000)

    def watch(self, now: float) -> None:
        """The one watchdog for stuck sends: boards whose socket took nothing due for their
        send timeout are failed (their sender closes them with 1013)."""
        self._watched = now
        for room in self.rooms.values():
            for link in room.boards:
                link.watch(now)

    def _tick_room(self, room: Room, fresh: list[ProtocolEvent], changed: dict[str, dict[str, Any]]) -> None:
        shared_events = (
            Outgoing.of({"type": "events", "epoch": room.epoch, "events": [e for _, e in fresh]})
            if fresh
            else None
        )
        shared_tick = None
        if changed:
            built = time.time() if self.hops is not None else 0.0
            shared_tick = Outgoing.of(
                {
                    "type": "tick",
                    "seq": room.last_seq,
                    "epoch": room.epoch,
                    "drivers": list(changed.values()),
                    **({"built": built} if built else {}),
                },
                built,
            )
        for link in list(room.boards):
            if link.mode == "live" and link.epoch != room.epoch:
                link.restart()  # went live on an epoch the room has left since
            if link.mode == "live" and link.cursor < room.last_seq:
                if shared_events is not None and link.cursor == room.ticked:
                    link.offer(shared_events)
                    link.cursor = room.last_seq
                else:
                    pending = room.since(link.cursor)
                    if pending is None:
                        link.mode = "replay"  # the sender reads the gap from the stream
                        link.wake.set()
                    elif pending:
                        link.offer(
                            Outgoing.of(
                                {"type": "events", "epoch": room.epoch, "events": [e for _, e in pending]}
                            )
                        )
                        link.cursor = pending[-1][0]
            if changed and link.mode == "live":
                link.offer_tick(shared_tick if link.cursor == room.last_seq else None, changed)
            link.flush()

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
        return {
            "rooms": len(self.rooms),
            "boards": len(boards),
            "drivers": sum(len(r.drivers) for r in self.rooms.values()),
            "queued_frames_max": max((len(b.queue) for b in boards), default=0),
            "snapshot_drops": self.dropped + sum(b.drops for b in boards),
            "epoch_resets": self.epoch_resets,
            "ticks": self.ticks,
            **(self.hops.summary() if self.hops else {}),
        }

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._read_events(), name="hub-events"),
            asyncio.create_task(self._tick_forever(), name="hub-tick"),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
