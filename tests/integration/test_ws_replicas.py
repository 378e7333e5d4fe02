"""Two gateway processes sharing Redis and the database (no Ray): a driver on one, a board on
the other; the board sees the driver move (position bus) and every event (org streams)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from gateway.cli import ws_keepalive
from persistence import events
from persistence.config import get_settings
from tests.factories import auth_headers, make_driver, make_org, make_user
from tests.integration.realtime_server import connect, free_port, ping, recv_json, recv_until


def start_gateway(port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MOVEHUB_RAY_ENABLED": "false", "MOVEHUB_BACKGROUND_WORKERS": "false"}
    keepalive = ws_keepalive(get_settings())  # as `movehub serve` runs it
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "gateway.app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--ws", "websockets-sansio",
         "--ws-ping-interval", str(keepalive["ws_ping_interval"]),
         "--ws-ping-timeout", str(keepalive["ws_ping_timeout"]),
         "--ws-per-message-deflate", "false", "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(process.stderr.read().decode()[-3000:] if process.stderr else "")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise TimeoutError(f"gateway on {port} not ready")


@pytest.fixture(scope="module")
def two_gateways(database: str) -> Iterator[tuple[str, str]]:
    ports = [free_port(), free_port()]
    processes = [start_gateway(port) for port in ports]
    try:
        for port, process in zip(ports, processes, strict=True):
            wait_ready(port, process)
        yield f"ws://127.0.0.1:{ports[0]}", f"ws://127.0.0.1:{ports[1]}"
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=20)


async def test_board_on_one_replica_sees_a_driver_on_the_other(
        two_gateways: tuple[str, str]) -> None:
    replica_a, replica_b = two_gateways
    org = await make_org()
    driver_user = await make_user("driver", org)
    driver = await make_driver(org, user=driver_user)
    board_headers = auth_headers(await make_user("dispatcher", org))
    async with connect(f"{replica_b}/ws/board", board_headers) as board, \
            connect(f"{replica_a}/ws/board", board_headers) as board_a:
        snap = await recv_json(board)
        seq, epoch = snap["seq"], snap["epoch"]
        assert (await recv_json(board_a))["epoch"] == epoch  # one stream, whichever replica
        async with connect(f"{replica_a}/ws/driver",
                           auth_headers(driver_user, driver)) as app_socket:
            assert (await recv_json(app_socket))["type"] == "hello"
            for step in range(3):
                await app_socket.send(ping(52.50 + step / 100, 13.40))
                tick = await recv_until(board, "tick", 5)
                [moved] = tick["drivers"]
                assert moved["id"] == str(driver.id) and moved["lat"] == 52.50 + step / 100
        # An event published anywhere (the outbox relay runs in either replica) reaches both.
        published = await events.publish(org.id, {"type": "booking.created", "data": {"n": 1}})
        for socket in (board, board_a):
            message = await recv_until(socket, "events", 5)
            assert [e["seq"] for e in message["events"]] == [published] == [seq + 1]
            assert message["epoch"] == epoch
    # A board reconnecting to the other replica resumes from its cursor.
    [later] = [await events.publish(org.id, {"type": "booking.updated", "data": {}})]
    async with connect(f"{replica_a}/ws/board?since={seq + 1}&epoch={epoch}",
                       board_headers) as board:
        message = await recv_until(board, "events", 5)
        assert [e["seq"] for e in message["events"]] == [later]
