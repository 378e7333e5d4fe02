"""The mode without Redis: refused at start while Ray is on (or with several workers), and
correct with Ray off, where the outbox worker runs in the gateway's own process and relays
assignments into its in-process streams: a board on that gateway sees them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from actors.outbox import start_outbox_worker
from gateway.app import create_app
from gateway.startup import StartupRefused
from persistence.config import get_settings
from tests.factories import auth_headers, make_booking, make_driver, make_org, make_truck, make_user
from tests.gateway_process import running_gateway
from tests.integration.realtime_server import connect, free_port, recv_json, recv_until

ROOT = Path(__file__).resolve().parents[2]
NO_REDIS = {"MOVEHUB_REDIS_URL": ""}
WAYS_OUT = ("MOVEHUB_REDIS_URL", "MOVEHUB_RAY_ENABLED=false")
READY_TIMEOUT_S = 90.0


def serve(extra_env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`movehub serve` as an operator runs it, expected to refuse (bounded, so a server that
    wrongly starts fails the test instead of hanging it)."""
    env = {**os.environ, **extra_env}
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "serve", "--port", str(free_port()), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_ray_without_redis_is_refused_at_start() -> None:
    refused = serve({**NO_REDIS, "MOVEHUB_RAY_ENABLED": "true"})
    assert refused.returncode != 0
    assert "refusing to start" in refused.stderr
    assert all(way in refused.stderr for way in WAYS_OUT), refused.stderr
    assert "Traceback" not in refused.stderr


def test_several_workers_without_redis_are_refused() -> None:
    refused = serve({**NO_REDIS, "MOVEHUB_RAY_ENABLED": "false"}, "--workers", "2")
    assert refused.returncode != 0
    assert "--workers 2" in refused.stderr and "MOVEHUB_REDIS_URL" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_create_app_refuses_ray_without_redis() -> None:
    """Other entry points (uvicorn's factory, an embedding) are refused the same way."""
    with pytest.raises(StartupRefused, match="MOVEHUB_RAY_ENABLED=false"):
        create_app(get_settings().model_copy(update={"redis_url": "", "ray_enabled": True}))


@pytest.fixture
def embedded_gateway(database: str) -> Iterator[tuple[str, httpx.Response]]:
    """A gateway without Redis or Ray, its background workers on, on the test database."""
    env = {
        **NO_REDIS,
        "MOVEHUB_RAY_ENABLED": "false",
        "MOVEHUB_BACKGROUND_WORKERS": "true",
        "MOVEHUB_OUTBOX_POLL_INTERVAL_S": "0.2",
    }
    with running_gateway(env, name="no-redis-gateway") as base_url:
        yield base_url, httpx.get(f"{base_url}/readyz", timeout=5)


async def test_without_redis_and_ray_a_board_sees_the_assignment(
    embedded_gateway: tuple[str, httpx.Response],
) -> None:
    base_url, ready = embedded_gateway
    checks = ready.json()["checks"]
    assert checks["redis"] == "not configured (in-process streams)"
    assert checks["outbox"] == "ok"  # the in-process task
    assert "ray" not in checks
    org = await make_org()
    dispatcher = await make_user("dispatcher", org)
    driver = await make_driver(org, user=await make_user("driver", org))
    truck = await make_truck(org)
    booking = await make_booking(org, await make_user("customer"))
    ws_url = base_url.replace("http", "ws", 1) + "/ws/board"
    async with connect(ws_url, auth_headers(dispatcher)) as board:
        assert (await recv_json(board, 15))["type"] == "snapshot"
        async with httpx.AsyncClient(base_url=base_url, headers=auth_headers(dispatcher)) as http:
            answer = await http.post(
                f"/api/v1/bookings/{booking.id}/assign",
                json={"driver_id": str(driver.id), "truck_id": str(truck.id)},
            )
        assert answer.status_code == 201, answer.text
        kinds: list[tuple[str, str]] = []
        deadline = time.monotonic() + 30
        while ("assignment.created", str(booking.id)) not in kinds:
            left = deadline - time.monotonic()
            assert left > 0, f"no assignment.created within 30 s; saw {kinds}"
            frame = await recv_until(board, "events", timeout=left)
            kinds += [(event["kind"], str(event["data"].get("booking_id"))) for event in frame["events"]]


async def test_the_in_process_outbox_task_reports_whether_it_runs(database: str) -> None:
    """What /readyz asks of the worker with Ray off: alive while its loop runs, not after."""
    settings = get_settings().model_copy(update={"ray_enabled": False, "redis_url": ""})
    handle = await start_outbox_worker(settings)
    try:
        assert await handle.alive()
    finally:
        await handle.close()
    assert not await handle.alive()
