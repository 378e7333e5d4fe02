"""Outages through a TCP proxy the test cuts and restores (the real servers keep running):
a real gateway process (uvicorn, joined to the session's Ray, outbox worker) reaches
PostgreSQL and Redis only through tests/proxy.py while reads and writes keep coming.

A 15 s database cut must be answered with 503 problem+json and Retry-After (never a 500,
never a hang), leave no half-written row, and the gateway must recover by itself; a driver's
status change during the cut gets an `unavailable` error on a socket that stays open, and a
socket that cannot start closes with 1013. A Redis cut keeps REST answering 2xx, and a board
resuming by seq afterwards sees every event once, without a gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import websockets
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from persistence.models import Booking, BookingStatusHistory, Organization, OutboxEvent, User
from persistence.session import SYSTEM, tenant_session
from tests.factories import (
    auth_headers,
    make_booking,
    make_driver,
    make_org,
    make_truck,
    make_user,
)
from tests.gateway_process import running_gateway
from tests.integration.realtime_server import assign, closed_with, connect, recv_json, recv_until
from tests.proxy import CutMode, TcpProxy

pytestmark = [pytest.mark.e2e, pytest.mark.ray]

CUT_S = 15.0
AFTER_S = 8.0  # traffic keeps going this long after the restore
REQUEST_TIMEOUT_S = 30.0  # longer than any bounded wait in the gateway: a hang shows as 0
RETRY_AFTER_S = "3"
WORKERS = 3


# ---- the gateway behind the proxies -----------------------------------------------------
def _through(url: str, port: int) -> str:
    return make_url(url).set(host="127.0.0.1", port=port).render_as_string(hide_password=False)


@dataclass
class Stack:
    url: str
    pg: TcpProxy
    redis: TcpProxy


@pytest.fixture(scope="module")
def stack(app: FastAPI) -> Iterator[Stack]:
    redis_url = make_url(os.environ["MOVEHUB_REDIS_URL"])
    with TcpProxy(5432) as pg, TcpProxy(redis_url.port or 6379) as redis:
        env = {
            "MOVEHUB_LOG_LEVEL": "WARNING",
            "MOVEHUB_DATABASE_URL": _through(os.environ["MOVEHUB_DATABASE_URL"], pg.port),
            "MOVEHUB_REDIS_URL": _through(os.environ["MOVEHUB_REDIS_URL"], redis.port),
            # As in production: Ray (the session's, joined under a namespace of its own), the
            # outbox worker relaying events to the org streams.
            "MOVEHUB_RAY_ENABLED": "true",
            "MOVEHUB_BACKGROUND_WORKERS": "true",
            "MOVEHUB_OUTBOX_POLL_INTERVAL_S": "0.2",
            # Retries of events that could not be relayed during a cut come back quickly.
            "MOVEHUB_OUTBOX_BACKOFF_BASE_S": "0.5",
            "MOVEHUB_OUTBOX_BACKOFF_MAX_S": "2",
            "MOVEHUB_OUTAGE_RETRY_AFTER_S": RETRY_AFTER_S,
        }
        with running_gateway(env, name="outage-gateway", share_ray=True) as url:
            yield Stack(url, pg, redis)


def ws_url(stack: Stack, path: str) -> str:
    return stack.url.replace("http://", "ws://") + path


# ---- traffic ----------------------------------------------------------------------------
@dataclass
class Answer:
    op: str
    sent: float
    done: float
    status: int  # 0: no answer within REQUEST_TIMEOUT_S, or the connection failed
    content_type: str = ""
    retry_after: str | None = None
    body: dict[str, Any] = field(default_factory=dict)


@dataclass
class World:
    org: Organization
    customers: list[User]  # one per traffic worker: their bookings are the ones checked
    created: list[str] = field(default_factory=list)  # booking ids answered 201


def _stop(lon: float, lat: float) -> dict[str, Any]:
    return {"address": "Teststrasse 1", "location": {"lon": lon, "lat": lat}}


async def _quote(http: httpx.AsyncClient, world: World, n: int) -> httpx.Response:
    return await http.post(
        "/api/v1/bookings/quote",
        json={
            "org_id": str(world.org.id),
            "pickup": {"lon": 13.41, "lat": 52.52},
            "dropoff": {"lon": 13.375, "lat": 52.51},
            "volume_m3": 10,
            "crew_size": 2,
        },
    )


async def _book(http: httpx.AsyncClient, world: World, n: int) -> httpx.Response:
    start = (datetime.now(UTC) + timedelta(days=3, hours=n % 500)).replace(microsecond=0)
    answer = await http.post(
        "/api/v1/bookings",
        json={
            "org_id": str(world.org.id),
            "pickup": _stop(13.41, 52.52),
            "dropoff": _stop(13.375, 52.51),
            "window_start": start.isoformat(),
            "window_end": (start + timedelta(hours=4)).isoformat(),
            "volume_m3": 10,
            "crew_size": 2,
        },
    )
    if answer.status_code == 201:
        world.created.append(answer.json()["id"])
    return answer


async def _list(http: httpx.AsyncClient, world: World, n: int) -> httpx.Response:
    return await http.get("/api/v1/bookings")


OPS: list[Callable[[httpx.AsyncClient, World, int], Awaitable[httpx.Response]]] = [_quote, _book, _list]


async def _worker(
    stack: Stack, world: World, headers: dict[str, str], stop: asyncio.Event, answers: list[Answer]
) -> None:
    async with httpx.AsyncClient(base_url=stack.url, headers=headers, timeout=REQUEST_TIMEOUT_S) as http:
        for n in itertools.count():
            if stop.is_set():
                return
            op = OPS[n % len(OPS)]
            sent = time.monotonic()
            try:
                response = await op(http, world, n)
            except httpx.HTTPError:
                answers.append(Answer(op.__name__, sent, time.monotonic(), 0))
            else:
                body = response.json() if response.content else {}
                answers.append(
                    Answer(
                        op.__name__,
                        sent,
                        time.monotonic(),
                        response.status_code,
                        response.headers.get("content-type", ""),
                        response.headers.get("retry-after"),
                        body if isinstance(body, dict) else {},
                    )
                )
            await asyncio.sleep(0.1)  # ~10 requests/s in all: traffic, not a load test


@contextlib.asynccontextmanager
async def traffic(stack: Stack, world: World) -> AsyncIterator[list[Answer]]:
    answers: list[Answer] = []
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(_worker(stack, world, auth_headers(customer), stop, answers))
        for customer in world.customers
    ]
    try:
        yield answers
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def make_world() -> World:
    return World(await make_org(), [await make_user("customer") for _ in range(WORKERS)])


def by_status(answers: list[Answer]) -> dict[int, int]:
    return dict(sorted(Counter(a.status for a in answers).items()))


async def wait_until(clock: float) -> None:
    await asyncio.sleep(max(0.0, clock - time.monotonic()))


# ---- rows -------------------------------------------------------------------------------
async def half_written(world: World) -> list[str]:
    """The traffic's bookings missing their first history row or their outbox row."""
    async with tenant_session(SYSTEM) as session:
        ids = (
            await session.scalars(
                select(Booking.id).where(
                    Booking.org_id == world.org.id, Booking.customer_id.in_([c.id for c in world.customers])
                )
            )
        ).all()
        histories = dict(
            (
                await session.execute(
                    select(BookingStatusHistory.booking_id, func.count())
                    .where(
                        BookingStatusHistory.org_id == world.org.id,
                        BookingStatusHistory.to_status == "pending",
                    )
                    .group_by(BookingStatusHistory.booking_id)
                )
            )
            .tuples()
            .all()
        )
        outboxed = set(
            (
                await session.scalars(
                    select(OutboxEvent.aggregate_id).where(
                        OutboxEvent.org_id == world.org.id, OutboxEvent.topic == "booking.created"
                    )
                )
            ).all()
        )
    assert set(world.created) <= {str(i) for i in ids}, "a 201 whose booking is not stored"
    return [str(i) for i in ids if histories.get(i) != 1 or str(i) not in outboxed]


# ---- sockets ----------------------------------------------------------------------------
async def a_driver_with_a_job(world: World) -> tuple[dict[str, str], str]:
    user = await make_user("driver", world.org)
    driver = await make_driver(world.org, user=user)
    booking = await make_booking(world.org, await make_user("customer"))
    await assign(booking, driver, await make_truck(world.org))
    return auth_headers(user, driver), str(booking.id)


async def status_reply(socket: Any, booking_id: str, status: str, ref: str) -> dict[str, Any]:
    await socket.send(f'{{"type":"status","booking_id":"{booking_id}","status":"{status}","ref":"{ref}"}}')
    while True:
        reply = await recv_json(socket, REQUEST_TIMEOUT_S)
        if reply.get("ref") == ref:
            return reply


async def opening_close(url: str, headers: dict[str, str]) -> tuple[int, str]:
    async with connect(url, headers) as socket:
        return await closed_with(socket, REQUEST_TIMEOUT_S)


async def outcome(work: Awaitable[Any]) -> Any:
    """The frame (or close) a socket step ends with; a closed socket or silence as text, so
    the test still counts the REST answers and reports every failure at the end."""
    try:
        return await work
    except websockets.ConnectionClosed as exc:
        return f"closed {exc.rcvd.code if exc.rcvd else None}"
    except TimeoutError:
        return "no answer"


async def resume_from_the_future(board: Any) -> tuple[int, str]:
    """A resume the stream cannot serve: the board needs a snapshot (the database's)."""
    await board.send('{"type":"resume","since":999999999}')
    return await closed_with(board, REQUEST_TIMEOUT_S)


async def heartbeat(socket: Any) -> dict[str, Any]:
    await socket.send('{"type":"heartbeat"}')
    return await recv_until(socket, "heartbeat", REQUEST_TIMEOUT_S)


# ---- the tests --------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["refuse", "blackhole"])
async def test_a_database_cut_is_answered_with_503_and_leaves_no_half_written_row(
    stack: Stack, mode: CutMode
) -> None:
    world = await make_world()
    driver_headers, job = await a_driver_with_a_job(world)
    board_headers = auth_headers(await make_user("dispatcher", world.org))
    async with (
        connect(ws_url(stack, "/ws/driver"), driver_headers) as driver,
        connect(ws_url(stack, "/ws/board"), board_headers) as board,
        traffic(stack, world) as answers,
    ):
        assert (await recv_json(driver, 10))["type"] == "hello"
        await recv_until(board, "snapshot", REQUEST_TIMEOUT_S)
        await asyncio.sleep(3)
        cut_start = time.monotonic()
        stack.pg.cut(mode)
        cut_at = time.monotonic()
        async with httpx.AsyncClient(base_url=stack.url, timeout=REQUEST_TIMEOUT_S) as http:
            ready = await http.get("/readyz")
        status_during = await outcome(status_reply(driver, job, "en_route", "cut-1"))
        still_open = await outcome(heartbeat(driver))
        board_close = await outcome(opening_close(ws_url(stack, "/ws/board"), board_headers))
        driver_close = await outcome(opening_close(ws_url(stack, "/ws/driver"), driver_headers))
        live_board_close = await outcome(resume_from_the_future(board))
        await wait_until(cut_at + CUT_S)
        restored_at = time.monotonic()
        stack.pg.restore()
        await asyncio.sleep(AFTER_S)
        status_after = await outcome(status_reply(driver, job, "en_route", "after-1"))

    during = [a for a in answers if a.sent >= cut_at and a.done <= restored_at]
    recovered = [a for a in answers if a.done > restored_at and 200 <= a.status < 300]
    first_2xx_s = min(a.done for a in recovered) - restored_at if recovered else None
    print(
        f"\n[{mode}] {len(answers)} answers; during the {CUT_S:.0f} s cut "
        f"{len(during)}: {by_status(during)}; whole run: {by_status(answers)}; "
        f"5xx: {by_status([a for a in answers if a.status >= 500])}; first 2xx "
        f"{first_2xx_s if first_2xx_s is None else round(first_2xx_s, 2)} s after restore; "
        f"driver status during the cut: {status_during}, then {still_open}; board and "
        f"driver opening during the cut: {board_close}, {driver_close}; a live board "
        f"needing a snapshot: {live_board_close}; after: {status_after}"
    )

    assert ready.status_code == 503 and ready.json()["checks"]["database"] != "ok"
    assert [a for a in answers if a.sent < cut_at - 1] and all(
        200 <= a.status < 300 for a in answers if a.done < cut_start
    ), by_status(answers)
    assert len(during) >= 5, "the traffic stalled during the cut"
    wrong = [
        a
        for a in during
        if a.status != 503
        or a.content_type != "application/problem+json"
        or a.retry_after != RETRY_AFTER_S
        or a.body.get("status") != 503
    ]
    assert not wrong, wrong[:3]
    assert not [a for a in answers if a.status not in (200, 201, 503)], by_status(answers)
    late = [a for a in answers if a.sent > restored_at + 3]
    assert late and all(200 <= a.status < 300 for a in late), by_status(late)
    assert first_2xx_s is not None  # printed above; the figure is not asserted (loaded CI)
    assert await half_written(world) == []

    assert isinstance(status_during, dict), status_during
    assert status_during["type"] == "error" and status_during["code"] == "unavailable"
    assert status_during["booking_id"] == job
    assert isinstance(still_open, dict)  # the socket stayed open: it answered a heartbeat
    assert isinstance(status_after, dict) and status_after["type"] == "status.ok", status_after
    closes = (board_close, driver_close, live_board_close)
    assert all(close[0] == 1013 for close in closes), closes


async def board_frames(
    socket: Any, seen: list[tuple[str, int]], stop: asyncio.Event, closes: list[str]
) -> None:
    """("snapshot", seq) and ("event", seq) for what the board is sent, until `stop`."""
    try:
        while not stop.is_set():
            try:
                message = await recv_json(socket, 0.5)
            except TimeoutError:
                continue
            if message["type"] == "snapshot":
                seen.append(("snapshot", message["seq"]))
            elif message["type"] == "events":
                seen.extend(("event", e["seq"]) for e in message["events"])
    except websockets.ConnectionClosed as exc:
        closes.append(f"closed {exc.rcvd.code if exc.rcvd else None}")


def gaps_and_repeats(seen: list[tuple[str, int]]) -> list[str]:
    """Each event must follow the cursor (the last event, or a snapshot's seq) by one."""
    wrong, cursor = [], None
    for kind, seq in seen:
        if kind == "event" and cursor is not None and seq != cursor + 1:
            wrong.append(f"{seq} after {cursor}")
        cursor = seq
    return wrong


@pytest.mark.parametrize("mode", ["refuse", "blackhole"])
async def test_a_redis_cut_keeps_rest_answering_and_boards_resume_without_a_gap(
    stack: Stack, mode: CutMode
) -> None:
    world = await make_world()
    board_headers = auth_headers(await make_user("dispatcher", world.org))
    live: list[tuple[str, int]] = []
    closes: list[str] = []
    stop = asyncio.Event()
    async with connect(ws_url(stack, "/ws/board"), board_headers) as board:
        reader = asyncio.create_task(board_frames(board, live, stop, closes))
        async with traffic(stack, world) as answers:
            await asyncio.sleep(3)
            stack.redis.cut(mode)
            cut_at = time.monotonic()
            await asyncio.sleep(10)
            restored_at = time.monotonic()
            stack.redis.restore()
            await asyncio.sleep(AFTER_S)
        stop.set()
        await reader
    assert live and live[0][0] == "snapshot", live[:3]
    # Resume from where this board got to: the rest exactly once, no gap.
    since = live[-1][1]
    resumed: list[tuple[str, int]] = [("resume", since)]
    booked = len(world.created)
    async with connect(ws_url(stack, f"/ws/board?since={since}"), board_headers) as board:
        stop = asyncio.Event()
        reader = asyncio.create_task(board_frames(board, resumed, stop, closes))
        deadline = time.monotonic() + 60  # the outbox retries what it could not relay
        while time.monotonic() < deadline and await relayed(world) < booked:
            await asyncio.sleep(0.5)
        await asyncio.sleep(2)  # the board's tick
        stop.set()
        await reader

    during = [a for a in answers if a.sent >= cut_at and a.done <= restored_at]
    events = [seq for kind, seq in live + resumed if kind == "event"]
    print(
        f"\n[redis {mode}] {len(answers)} answers: {by_status(answers)}; during the cut "
        f"{len(during)}: {by_status(during)}; board: {len(live)} frames live "
        f"({[f for f in live if f[0] == 'snapshot']} snapshots), {len(resumed) - 1} after "
        f"resuming from {since}; closes {closes}; {booked} bookings made"
    )
    assert gaps_and_repeats(live) == [] and gaps_and_repeats(resumed) == [], (live, resumed)
    assert len(events) == len(set(events)) and events == sorted(events), events
    assert len(events) >= booked  # every booking.created reached the board
    assert len(during) >= 5, "the traffic stalled during the cut"
    failed = [(a.op, a.status, a.body.get("detail")) for a in answers if not 200 <= a.status < 300]
    assert not failed, (by_status(answers), failed[:5])


async def relayed(world: World) -> int:
    """This world's booking.created rows the outbox has delivered (to the org stream)."""
    async with tenant_session(SYSTEM) as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(OutboxEvent)
                .where(
                    OutboxEvent.org_id == world.org.id,
                    OutboxEvent.topic == "booking.created",
                    OutboxEvent.status == "delivered",
                )
            )
            or 0
        )
