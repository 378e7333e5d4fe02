"""`movehub serve --workers 2`: the supervisor starts one local Ray and both workers join it,
so they share one fleet directory and one set of shards (a driver's ping through one worker
is in the live state boards on the other worker get); and a database that refuses a new
connection (53300, too many) is a 503 with Retry-After, not a 500."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from gateway import errors
from persistence.config import get_settings
from tests.factories import auth_headers, make_driver, make_org, make_user
from tests.gateway_process import ARTIFACTS, ROOT, free_port, stop, wait_ready
from tests.integration.realtime_server import connect, ping, recv_json, recv_until
from tests.scratch import ScratchDatabase

pytestmark = [pytest.mark.ray]


def descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        children = [p for p, parent in parents.items() if parent == current]
        found += children
        frontier += children
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def socket_owner(client_port: int, pids: list[int]) -> int | None:
    """Which of `pids` holds the server side of the TCP connection from `client_port`."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[2].split(":")[1], 16) == client_port:
            inodes.add(f"socket:[{fields[9]}]")
    for pid in pids:
        try:
            links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue
        if inodes & set(links):
            return pid
    return None


async def test_two_workers_share_one_ray_and_one_live_state(database: str) -> None:
    org = await make_org()
    dispatcher = auth_headers(await make_user("dispatcher", org))
    driver_user = await make_user("driver", org)
    driver = await make_driver(org, user=driver_user)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / "workers-share-ray.log"
    env = {
        **os.environ,
        "RAY_ADDRESS": "",
        "MOVEHUB_RAY_ENABLED": "true",
        "MOVEHUB_RAY_NAMESPACE": f"movehub-workers-{uuid.uuid4().hex[:8]}",
        "MOVEHUB_PUBLIC_BASE_URL": base,
    }
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port), "--workers", "2"],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_ready(base, server, log, timeout_s=300)
        family = descendants(server.pid)
        assert len([p for p in family if "gcs_server" in cmdline(p)]) == 1, "one Ray cluster"
        workers = [p for p in family if "spawn_main" in cmdline(p)]  # not the resource tracker
        assert len(workers) == 2, [cmdline(p) for p in workers]
        ws = base.replace("http", "ws")
        async with connect(f"{ws}/ws/driver", auth_headers(driver_user, driver)) as app_socket:
            await recv_json(app_socket, 30)
            await app_socket.send(ping(52.5151, 13.4011))
            driver_worker = socket_owner(app_socket.local_address[1], workers)
            assert driver_worker in workers
            seen: dict[int, dict[str, Any]] = {}
            for _ in range(40):  # boards until one lands on each worker
                async with connect(f"{ws}/ws/board", dispatcher) as board:
                    owner = socket_owner(board.local_address[1], workers)
                    snapshot = await recv_until(board, "snapshot", 30)
                [entry] = [d for d in snapshot["drivers"] if d["id"] == str(driver.id)]
                assert owner is not None
                seen[owner] = entry
                if len(seen) == 2:
                    break
        assert set(seen) == set(workers), "the boards never reached both workers"
        for owner, entry in seen.items():  # the other worker's board too: one live state
            assert (entry["lat"], entry["lon"], entry["online"]) == (52.5151, 13.4011, True), (
                owner == driver_worker,
                entry,
            )
    finally:
        stop(server)


async def test_a_refused_connection_is_a_503(scratch_database: Any) -> None:
    scratch: ScratchDatabase = scratch_database("refusing")
    with scratch.admin() as admin:  # PostgreSQL answers 53300 (too many connections)
        admin.execute(f"ALTER DATABASE {scratch.name} CONNECTION LIMIT 0")
    refusing = create_async_engine(
        scratch.owner_url.replace("movehub_owner:movehub_owner", "movehub_app:movehub_app")
    )
    app = FastAPI()
    app.state.settings = get_settings()
    errors.install(app)

    @app.get("/probe")
    async def probe() -> dict[str, str]:
        async with refusing.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return {"status": "unreachable"}

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.get("/probe")
    await refusing.dispose()
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["retry-after"] == str(get_settings().outage_retry_after_s)
