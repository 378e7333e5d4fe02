"""Boards survive losing the org's stream in Redis (its keys deleted, or the database flushed)
while events flow: every board ends with the bookings' statuses the database holds, and within
one epoch of the stream no board is given an event twice or misses one."""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from persistence import events
from persistence.models import Booking
from persistence.redis import get_redis
from persistence.session import SYSTEM, tenant_session
from tests.factories import auth_headers, make_booking, make_org, make_user
from tests.integration.realtime_server import connect, recv_json

STATUSES = ("pending", "confirmed", "cancelled")


@dataclass
class BoardView:
    """What a board client knows, kept as the board's socket.js keeps it, checking the stream
    as it goes."""

    statuses: dict[str, str] = field(default_factory=dict)
    seq: int | None = None
    epoch: str | None = None
    snapshots: int = 0
    applied: int = 0

    def take(self, message: dict[str, Any]) -> None:
        if message["type"] == "snapshot":
            self.statuses = {b["id"]: b["status"] for b in message["bookings"]}
            self.seq, self.epoch = message["seq"], message["epoch"]
            self.snapshots += 1
        elif message["type"] == "events":
            assert message["epoch"] == self.epoch, "another epoch's events without a snapshot"
            for event in message["events"]:
                assert self.seq is not None and event["seq"] == self.seq + 1, (
                    f"after {self.seq} came {event['seq']} (epoch {self.epoch})"
                )
                self.seq = event["seq"]
                self.applied += 1
                if event["kind"] == "booking.status":
                    self.statuses[event["data"]["booking_id"]] = event["data"]["to"]

    def reached(self, at: events.Head) -> bool:
        return self.epoch == at.epoch and self.seq is not None and self.seq >= at.seq


class Board:
    """A board socket read by a task into its view, until closed."""

    def __init__(self, url: str, headers: dict[str, str], view: BoardView | None = None) -> None:
        self.url, self.headers = url, headers
        self.view = view or BoardView()
        self.first: dict[str, Any] | None = None
        self._socket: Any = None
        self._task: asyncio.Task[None] | None = None

    async def open(self, query: str = "") -> Board:
        self._socket = await connect(f"{self.url}{query}", self.headers).__aenter__()
        self.first = await recv_json(self._socket, 10)
        self.view.take(self.first)
        self._task = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        while True:
            self.view.take(await recv_json(self._socket, 60))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task  # a failed check of the view is raised here
        await self._socket.close()

    async def until(self, at: events.Head, timeout: float = 30.0) -> None:
        async with asyncio.timeout(timeout):
            while not self.view.reached(at):
                assert self._task is not None
                if self._task.done():
                    self._task.result()  # a broken check surfaces here
                await asyncio.sleep(0.05)


async def set_status(booking_id: uuid.UUID, status: str) -> str:
    async with tenant_session(SYSTEM) as session:
        row = await session.get(Booking, booking_id)
        assert row is not None
        before, row.status = row.status, status
    return before


async def change(org_id: uuid.UUID, bookings: list[uuid.UUID], rng: random.Random) -> events.Head:
    """One status change as the outbox relays it: committed first, then published."""
    booking = rng.choice(bookings)
    to = rng.choice(STATUSES)
    before = await set_status(booking, to)
    return await events.append(
        org_id,
        {"type": "booking.status_changed", "data": {"booking_id": str(booking), "from": before, "to": to}},
    )


async def statuses_in_database(org_id: uuid.UUID) -> dict[str, str]:
    async with tenant_session(SYSTEM) as session:
        rows = (
            await session.execute(select(Booking.id, Booking.status).where(Booking.org_id == org_id))
        ).all()
    return {str(row.id): row.status for row in rows}


@pytest.mark.parametrize("loss", ["delete_keys", "flushdb"])
async def test_boards_survive_losing_the_stream(ws_base: str, loss: str) -> None:
    redis = get_redis()
    assert redis is not None
    org = await make_org()
    customer = await make_user()
    bookings = [(await make_booking(org, customer)).id for _ in range(6)]
    headers = auth_headers(await make_user("dispatcher", org))
    rng = random.Random(7)
    url = f"{ws_base}/ws/board"

    async def lose() -> None:
        if loss == "flushdb":
            await redis.flushdb()
        else:
            await redis.delete(*events.stream_keys(org.id))

    async def changes(count: int) -> events.Head:
        last = None
        for _ in range(count):
            last = await change(org.id, bookings, rng)
            await asyncio.sleep(0.005)
        assert last is not None
        return last

    live = [await Board(url, headers).open() for _ in range(2)]
    away = await Board(url, headers).open()  # leaves before the loss, back after it
    before = await changes(30)
    await away.until(before)
    await away.close()
    assert live[0].view.epoch == before.epoch

    publisher = asyncio.create_task(changes(120))  # the loss lands mid-stream
    await asyncio.sleep(0.3)
    await lose()
    during = await publisher
    assert during.epoch != before.epoch
    for board in live:
        await board.until(during)

    stale = (away.view.seq, away.view.epoch)
    back = await Board(url, headers, away.view).open(f"?since={stale[0]}&epoch={stale[1]}")
    assert back.first is not None and back.first["type"] == "snapshot"  # not a wrong replay
    assert back.first["epoch"] == during.epoch

    leaving = live.pop()  # leaves and resumes within the new epoch: an exact replay
    await leaving.close()
    after = await changes(20)
    resumed = await Board(url, headers, leaving.view).open(
        f"?since={leaving.view.seq}&epoch={leaving.view.epoch}"
    )
    assert resumed.first is not None and resumed.first["type"] == "events"

    boards = [*live, back, resumed]
    for board in boards:
        await board.until(after)
    truth = await statuses_in_database(org.id)
    for board in boards:
        assert board.view.statuses == truth
    assert live[0].view.snapshots >= 2  # the first, and one after the loss
    for board in boards:
        await board.close()
