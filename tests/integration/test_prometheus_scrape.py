"""A real Prometheus (Debian's `prometheus`, started here) scrapes the test session's gateway
(served on a real port) with the bearer token it requires, every second; after a driver's pings
and a booking its HTTP API answers the series the app exports for them, and with Ray on the
fleet shards' health and live drivers. A second job scraping with a wrong token is the control:
its target is down (401), so the first job's `up` of 1 is the token's doing."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from secrets import token_hex
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI

from actors.outbox import OutboxWorker
from tests.factories import auth_headers, make_driver, make_org, make_user
from tests.gateway_process import free_port
from tests.integration.realtime_server import connect, ping, recv_json
from tests.integration.test_bookings import booking_body

TOKEN = token_hex(32)
READY_TIMEOUT_S = 20.0
SERIES_TIMEOUT_S = 15.0


def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus is not installed: scripts/setup.sh --test installs it")
        pytest.skip("prometheus is not installed (scripts/setup.sh --test installs it)")
    return found


@pytest.fixture(scope="module")
def gateway(app: FastAPI, ws_base: str) -> Iterator[str]:
    """The session's app on its port, requiring a token for /metrics while this module runs."""
    settings = app.state.settings
    app.state.settings = settings.model_copy(update={"metrics_token": TOKEN})
    try:
        yield ws_base.replace("ws://", "http://")
    finally:
        app.state.settings = settings


@pytest.fixture(scope="module")
def prometheus(gateway: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = prometheus_binary()
    workdir = tmp_path_factory.mktemp("prometheus")
    target = gateway.removeprefix("http://")
    (workdir / "token").write_text(TOKEN)
    (workdir / "wrong").write_text(token_hex(32))
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {
                "job_name": job,
                "metrics_path": "/metrics",
                "authorization": {"credentials_file": str(workdir / credentials)},
                "static_configs": [{"targets": [target]}],
            }
            for job, credentials in (("movehub", "token"), ("wrong-token", "wrong"))
        ],
    }
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = workdir / "prometheus.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [
                binary,
                f"--config.file={workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            cwd=workdir,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            assert server.poll() is None, log.read_text(errors="replace")[-3000:]
            try:
                if httpx.get(f"{base}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "prometheus not ready:\n" + log.read_text(errors="replace")
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


async def query(prometheus: str, promql: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=5) as http:
        answer = await http.get(f"{prometheus}/api/v1/query", params={"query": promql})
    answer.raise_for_status()
    body = answer.json()
    assert body["status"] == "success", body
    return list(body["data"]["result"])


async def eventually(prometheus: str, promql: str) -> list[dict[str, Any]]:
    """The query's result once it is not empty (scrapes are 1 s apart)."""
    deadline = time.monotonic() + SERIES_TIMEOUT_S
    while True:
        result = await query(prometheus, promql)
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.5)


async def test_prometheus_scrapes_the_gateway_and_answers_its_series(
    app: FastAPI, gateway: str, prometheus: str
) -> None:
    org = await make_org()
    driver_user = await make_user("driver", org)
    driver = await make_driver(org, user=driver_user)
    customer = await make_user("customer")
    ws = gateway.replace("http://", "ws://")
    async with connect(f"{ws}/ws/driver", auth_headers(driver_user, driver)) as app_socket:
        assert (await recv_json(app_socket))["type"] == "hello"
        for step in range(3):
            await app_socket.send(ping(52.50 + step / 100, 13.40))
        await app_socket.send(ping(200.0, 13.40))  # lat out of range: refused, the socket stays
        assert (await recv_json(app_socket))["code"] == "invalid"
        async with httpx.AsyncClient(base_url=gateway, timeout=10) as http:
            created = await http.post(
                "/api/v1/bookings", json=booking_body(org.id), headers=auth_headers(customer)
            )
        assert created.status_code == 201, created.text
        # The suite runs no background worker: deliver booking.created (and whatever else is due).
        await OutboxWorker(app.state.settings, ports=app.state.ports).drain_once()

        assert await eventually(prometheus, 'up{job="movehub"} == 1')
        [connections] = await eventually(prometheus, 'movehub_ws_connections{kind="driver"} >= 1')
        assert float(connections["value"][1]) >= 1
    [accepted] = await eventually(prometheus, 'movehub_pings_total{outcome="accepted"} >= 3')
    assert float(accepted["value"][1]) >= 3
    assert await eventually(prometheus, 'movehub_pings_rejected_total{reason="out_of_range"} >= 1')
    assert await eventually(prometheus, "movehub_ingest_batch_pings_count >= 1")
    assert await eventually(
        prometheus, 'movehub_http_requests_total{method="POST",route="/api/v1/bookings",status="201"} >= 1'
    )
    # booking.created went through the outbox worker (this process's: the worker's series).
    assert await eventually(
        prometheus, 'movehub_outbox_deliveries_total{topic="booking.created",outcome="delivered"} >= 1'
    )
    # Gathered from the database on a scrape (cached): the new booking is open and pending.
    assert await eventually(prometheus, 'movehub_bookings_open{status="pending"} >= 1')
    assert await eventually(prometheus, 'movehub_db_pool_in_use{pool="primary"}')
    if app.state.fleet is not None:  # Ray on (the suite's default): the shards, through Ray
        shards = {str(s) for s in app.state.fleet.table.handles}
        up = await eventually(prometheus, "movehub_shard_up == 1")
        assert {series["metric"]["shard"] for series in up} == shards
        assert await eventually(prometheus, "sum(movehub_shard_live_drivers) >= 1")
    # The control: the same target scraped with a wrong token is down.
    [wrong] = await eventually(prometheus, 'up{job="wrong-token"}')
    assert wrong["value"][1] == "0"


async def test_the_scrape_needs_the_token(gateway: str) -> None:
    """What the wrong-token job meets: 401 without the bearer, the series with it."""
    async with httpx.AsyncClient(base_url=gateway, timeout=10) as http:
        assert (await http.get("/metrics")).status_code == 401
        answer = await http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200 and "movehub_ws_connections" in answer.text
