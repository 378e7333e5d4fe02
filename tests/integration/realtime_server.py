"""Shared by the websocket tests: the session's app served by a real uvicorn on a free port
(same event loop, lifespan already running), and small client helpers."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import orjson
import pytest
import uvicorn
import websockets
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection

from gateway.cli import ws_keepalive
from persistence.config import get_settings
from tests.gateway_process import free_port


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # the test runner keeps its signals
        yield


@pytest.fixture(scope="session")
async def ws_base(app: FastAPI) -> AsyncIterator[str]:
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        ws="websockets-sansio",
        **ws_keepalive(get_settings()),
        ws_per_message_deflate=False,
        log_level="warning",
    )
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    yield f"ws://127.0.0.1:{port}"
    server.should_exit = True
    await task


def connect(url: str, headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
    return websockets.connect(
        url, additional_headers=headers or {}, compression=None, open_timeout=10, **kwargs
    )


async def recv_json(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    return dict(orjson.loads(await asyncio.wait_for(ws.recv(), timeout)))


async def recv_until(
    ws: ClientConnection, kind: str, timeout: float = 5.0, seen: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Frames until one of type `kind` (the others are kept in `seen`)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no {kind} frame within {timeout} s")
        message = await recv_json(ws, left)
        if message["type"] == kind:
            return message
        if seen is not None:
            seen.append(message)


async def closed_with(ws: ClientConnection, timeout: float = 5.0) -> tuple[int, str]:
    """Read until the server closes; the close code and reason."""
    with contextlib.suppress(websockets.ConnectionClosed):
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    assert ws.close_code is not None
    return ws.close_code, ws.close_reason or ""


def ping(lat: float, lon: float, ts: float | None = None, **extra: Any) -> str:
    return orjson.dumps(
        {
            "type": "ping",
            "lat": lat,
            "lon": lon,
            "heading": extra.get("heading"),
            "speed": extra.get("speed"),
            "accuracy": 5.0,
            "ts": ts if ts is not None else time.time(),
        }
    ).decode()


async def assign(booking: Any, driver: Any, truck: Any) -> None:
    """Put the booking on the driver (as a committed assignment would)."""
    from sqlalchemy.dialects.postgresql import Range

    from persistence.models import Booking, BookingAssignment
    from persistence.session import SYSTEM, tenant_session

    async with tenant_session(SYSTEM) as session:
        session.add(
            BookingAssignment(
                org_id=booking.org_id,
                booking_id=booking.id,
                driver_id=driver.id,
                truck_id=truck.id,
                window=Range(booking.window_start, booking.window_end),
            )
        )
        row = await session.get(Booking, booking.id)
        assert row is not None
        row.status = "assigned"
