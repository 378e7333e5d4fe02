"""`/ws/board`: a dispatcher's live view of one organization — snapshot, sequenced events
(resumable with `since` and `epoch`), and coalesced position ticks."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from typing import Any

import structlog
from fastapi import WebSocket

from gateway.errors import unavailable
from gateway.realtime.auth import SocketRefused, board_scope
from gateway.realtime.connection import (
    TRY_LATER,
    Closing,
    Inbox,
    Outgoing,
    close,
    gone,
    outlet,
    refuse,
)
from gateway.realtime.hub import BoardLink, frame, to_protocol
from gateway.realtime.messages import (
    BOARD_FRAMES,
    BOARD_TYPES,
    BadFrame,
    InvalidFrame,
    Resume,
    decode,
)
from gateway.realtime.runtime import Realtime
from gateway.realtime.snapshot import CachedSnapshot, build_snapshot
from persistence import events, metrics
from persistence.session import Caller

log = structlog.get_logger("movehub.realtime.board")
REPLAY_PAGE = 500
EPOCH_PATTERN = re.compile(r"[0-9A-Za-z_-]{1,64}")
TICK_FIELDS = ("id", "lat", "lon", "heading", "speed", "online", "status")
HEARTBEAT = Outgoing(b'{"type":"heartbeat"}')


class BoardSession:
    def __init__(self, websocket: WebSocket, caller: Caller, org_id: uuid.UUID, realtime: Realtime) -> None:
        self.websocket, self.caller, self.org_id, self.realtime = (websocket, caller, org_id, realtime)
        self.timeout_s = realtime.settings.ws_send_timeout_s

    async def snapshot(self, at: events.Head) -> dict[str, Any]:
        snap = await build_snapshot(
            self.caller,
            self.org_id,
            at.seq,
            self.realtime.fleet,
            self.realtime.hub.latest_positions(self.org_id),
        )
        if snap is None:
            raise Closing(4400, "no such organization")
        return {**snap, "epoch": at.epoch}

    async def head(self) -> events.Head:
        """The stream's head, once the room follows its epoch (a stream that started again
        resets the room first: a board live on another epoch than its room misses events)."""
        at = await events.head(self.org_id)
        if not await self.realtime.hub.agree(self.org_id, at.epoch):
            log.warning("board.epoch_disagrees", org_id=str(self.org_id), epoch=at.epoch)
        return at

    async def send_snapshot(self, link: BoardLink) -> None:
        # The link stays in snapshot mode (the tick offers it nothing) until its cursor is the
        # snapshot's seq: going live earlier would queue events the snapshot already holds.
        link.clear()
        at = await self.head()

        async def build() -> CachedSnapshot:
            return CachedSnapshot(at.seq, frame(await self.snapshot(at)), time.monotonic(), at.epoch)

        cached = await self.realtime.snapshots.get(self.org_id, at.seq, build, at.epoch)
        snapshot = Outgoing(cached.text.encode())
        await link.send_now(snapshot)  # written at once: the tick's frames come after it
        metrics.BOARD_SNAPSHOTS.inc()
        link.clear()
        # Later events queue behind the snapshot (the tick catches a cursor up from the room's
        # recent events); if the room left this epoch meanwhile, it sends another snapshot.
        link.cursor, link.epoch, link.mode = cached.seq, cached.epoch, "live"

    async def replay(self, link: BoardLink) -> None:
        """Exactly the events after the cursor, then a tick with every driver; a snapshot
        instead when the stream no longer reaches back that far or is another epoch's."""
        at = await self.head()
        if link.epoch is None:  # a client from before epochs: taken as the current one
            link.epoch = at.epoch
        if link.epoch != at.epoch or link.cursor > at.seq:
            link.mode = "snapshot"  # the stream started again since that cursor
            return
        while link.mode == "replay":
            missed = await events.read_since(self.org_id, link.cursor, REPLAY_PAGE, at.epoch)
            if missed is None:
                link.mode = "snapshot"
                return
            if not missed:
                break
            await link.send_now(
                Outgoing.of(
                    {"type": "events", "epoch": at.epoch, "events": [to_protocol(s, e) for s, e in missed]}
                )
            )
            link.cursor = missed[-1][0]
        if link.mode != "replay":
            return
        link.mode = "live"
        drivers = (await self.snapshot(events.Head(link.cursor, at.epoch)))["drivers"]
        await link.send_now(
            Outgoing.of(
                {
                    "type": "tick",
                    "seq": link.cursor,
                    "epoch": at.epoch,
                    "drivers": [{k: d.get(k) for k in TICK_FIELDS} for d in drivers],
                }
            )
        )

    async def send_forever(self, link: BoardLink) -> None:
        """Snapshots and replays; live frames are the tick's to write (hub.BoardLink.flush).
        Ends with Closing(1013) when the watchdog gave up on the board's socket."""
        while True:
            link.check()
            if link.mode == "snapshot":
                await self.send_snapshot(link)
            elif link.mode == "replay":
                await self.replay(link)
            else:
                link.flush()  # what queued while this board was not live yet
                link.wake.clear()
                await link.wake.wait()

    async def receive_forever(self, link: BoardLink) -> None:
        inbox = Inbox(self.websocket, self.realtime.settings)
        while (text := await inbox.next()) is not None:
            try:
                message = decode(text, BOARD_FRAMES, BOARD_TYPES)
            except InvalidFrame as exc:
                inbox.count_invalid()
                link.say(
                    Outgoing.of({"type": "error", "code": "invalid", "detail": exc.detail, "ref": exc.ref})
                )
                continue
            if isinstance(message, Resume):
                link.resume(message.since, message.epoch)
            else:
                link.say(HEARTBEAT)

    async def run(self, since: int | None, epoch: str | None = None) -> None:
        hub = self.realtime.hub
        out = outlet(self.websocket)
        link = await hub.add_board(self.org_id, out)
        metrics.WS_CONNECTIONS.labels("board").inc()
        link.timeout_s = self.timeout_s
        if since is not None:
            link.resume(since, epoch)
        else:
            link.wake.set()
        tasks = [
            asyncio.create_task(self.send_forever(link)),
            asyncio.create_task(self.receive_forever(link)),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # re-raise Closing and friends
        finally:
            metrics.WS_CONNECTIONS.labels("board").dec()
            hub.remove_board(link)
            out.close()
            for task in tasks:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task


def _since(websocket: WebSocket) -> tuple[int | None, str | None]:
    """`?since=<seq>&epoch=<epoch>`: where a board left off (without an epoch, the since is
    taken as the current epoch's: clients from before epochs cannot tell a lost stream)."""
    raw = websocket.query_params.get("since")
    epoch = websocket.query_params.get("epoch") or None
    if epoch is not None and not EPOCH_PATTERN.fullmatch(epoch):
        raise SocketRefused(4400, "epoch must be the epoch of an earlier snapshot or events")
    if raw is None or raw == "":
        return None, None
    if not raw.isdigit():
        raise SocketRefused(4400, "since must be a non-negative integer")
    return int(raw), epoch


async def serve_board(websocket: WebSocket, realtime: Realtime) -> None:
    try:
        caller, org_id = await board_scope(websocket, realtime)  # watched: ends with 4410
        since, epoch = _since(websocket)
    except SocketRefused as exc:
        await refuse(websocket, exc.code, exc.reason)
        return
    await websocket.accept()
    try:
        await BoardSession(websocket, caller, org_id, realtime).run(since, epoch)
    except (Closing, BadFrame) as exc:
        await close(websocket, exc.code, exc.reason)
        return
    except Exception as exc:
        if unavailable(exc):  # e.g. no snapshot while the database is unreachable
            await close(websocket, *TRY_LATER)
            return
        if not gone(websocket, exc):
            log.exception("board.socket_failed", org_id=str(org_id))
        await close(websocket, 1011, "internal error")
        return
    await close(websocket, 1000, "bye")
