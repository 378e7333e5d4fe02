"""Slot routing: every process routes through one slot table, whatever its own settings; the
shards scale 2 -> 3 -> 2 under streaming pings and auto-assignments with nothing lost."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import ray
from fastapi import FastAPI
from sqlalchemy import text

from actors.outbox import OutboxWorker, run_worker
from actors.runtime import Fleet, start_fleet
from actors.slots import Moved, slot_of
from persistence.config import get_settings
from persistence.session import SYSTEM, tenant_session
from tests.factories import auth_headers, make_booking, make_driver, make_org, make_truck, make_user

pytestmark = pytest.mark.skipif(not get_settings().ray_enabled, reason="needs the Ray fleet")
SOON = (datetime.now(UTC) + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
ROUTE_IN_ANOTHER_PROCESS = """
import json, sys
import ray
from actors.runtime import directory_handle, init_ray, _table
from persistence.config import get_settings
settings = get_settings()
init_ray(settings)
table = _table(ray.get(directory_handle(settings).table.remote()))
print(json.dumps([table.shard_id(org) for org in json.loads(sys.stdin.read())]))
"""


async def test_every_process_routes_an_org_alike(app: FastAPI) -> None:
    fleet: Fleet = app.state.fleet
    orgs = [str(uuid.uuid4()) for _ in range(300)]
    other = await start_fleet(get_settings().model_copy(update={"fleet_shards": 7}))
    assert [other.shard_id(o) for o in orgs] == [fleet.shard_id(o) for o in orgs]
    assert len({fleet.shard_id(o) for o in orgs}) == len(fleet.shards)  # not all on one
    # A process of its own, with other local settings, joining the same Ray cluster.
    env = {
        **os.environ,
        "RAY_ADDRESS": ray.get_runtime_context().gcs_address,
        "MOVEHUB_FLEET_SHARDS": "5",
        "MOVEHUB_FLEET_SLOTS": "64",
    }
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", ROUTE_IN_ANOTHER_PROCESS],
        input=json.dumps(orgs),
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [fleet.shard_id(o) for o in orgs]


@dataclass
class Org:
    id: uuid.UUID
    staff: Any
    customer: Any
    drivers: list[str]
    trucks: list[str]


@dataclass
class Stream:
    """Pings sent per driver (counted only once the shard call returned) and the last one."""

    orgs: list[Org]
    sent: dict[str, int] = field(default_factory=dict)
    last: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def run(self, fleet: Fleet, stop: asyncio.Event) -> None:
        while not stop.is_set():
            now = time.time()
            batch = [
                {
                    "org_id": str(org.id),
                    "driver_id": d,
                    "lat": 52.5 + random.random() / 20,
                    "lon": 13.4 + random.random() / 20,
                    "heading": None,
                    "speed": None,
                    "accuracy": 5.0,
                    "ts": now,
                }
                for org in self.orgs
                for d in org.drivers
            ]
            await fleet.ingest(batch)
            for ping in batch:
                self.sent[ping["driver_id"]] = self.sent.get(ping["driver_id"], 0) + 1
                self.last[ping["driver_id"]] = ping
            await asyncio.sleep(0.02)


def spread_ids(count: int, slots: int) -> list[uuid.UUID]:
    """Org ids whose slots are spread over the whole table (odd and even alike), so every
    scaling step moves some of them."""
    wanted = [i * (slots // count) + i % 2 for i in range(count)]
    found: dict[int, uuid.UUID] = {}
    while len(found) < count:
        org_id = uuid.uuid4()
        slot = slot_of(org_id, slots)
        if slot in wanted:
            found.setdefault(slot, org_id)
    return list(found.values())


async def _org(org_id: uuid.UUID) -> Org:
    org = await make_org(id=org_id)
    staff, customer = await make_user("dispatcher", org), await make_user("customer")
    drivers = [await make_driver(org, lat=52.52 + 0.01 * i) for i in range(3)]
    trucks = [await make_truck(org) for _ in range(2)]
    return Org(org.id, staff, customer, [str(d.id) for d in drivers], [str(t.id) for t in trucks])


async def _assignments(org_id: uuid.UUID) -> list[tuple[str, float, float]]:
    async with tenant_session(SYSTEM) as session:
        rows = (
            await session.execute(
                text("""
            SELECT driver_id::text, extract(epoch FROM lower("window"))::float8,
                   extract(epoch FROM upper("window"))::float8
            FROM booking_assignments WHERE org_id = :org AND active"""),
                {"org": org_id},
            )
        ).all()
    return sorted((d, s, e) for d, s, e in rows)


async def _overlaps(org_ids: list[uuid.UUID]) -> int:
    async with tenant_session(SYSTEM) as session:
        return int(
            (
                await session.execute(
                    text("""
            SELECT count(*) FROM booking_assignments a JOIN booking_assignments b
              ON a.id < b.id AND a.active AND b.active AND a."window" && b."window"
             AND (a.driver_id = b.driver_id OR a.truck_id = b.truck_id)
            WHERE a.org_id = ANY(:orgs)"""),
                    {"orgs": org_ids},
                )
            ).scalar_one()
        )


async def _check(fleet: Fleet, orgs: list[Org], stream: Stream, assigned: int) -> None:
    """Each org answered by exactly one shard (the one the table names), its live state the
    database plus the last pings, every ping applied once, every assignment there once."""
    described = await fleet.describe()
    assert sum(s["slots"] for s in described["shards"].values()) == described["slots"]
    shards = fleet.shards
    total_busy = 0
    for org in orgs:
        answers = await asyncio.gather(*(s.state_of.remote(str(org.id)) for s in shards))
        owners = [i for i, a in enumerate(answers) if not isinstance(a, Moved)]
        assert len(owners) == 1, answers
        assert shards[owners[0]] == fleet.shard_for(org.id)
        state = answers[owners[0]]
        assert (state["drivers"], state["trucks"]) == (sorted(org.drivers), sorted(org.trucks))
        for d in org.drivers:
            last = stream.last[d]
            assert state["live"][d] == (last["lat"], last["lon"], last["ts"], stream.sent[d])
        database = await _assignments(org.id)
        assert sorted(tuple(b) for b in state["busy"]) == database
        total_busy += len(database)
    assert total_busy == assigned
    assert await _overlaps([o.id for o in orgs]) == 0


async def _assign_until(
    client: httpx.AsyncClient, orgs: list[Org], start: datetime, done: asyncio.Task[Any]
) -> list[int]:
    """Rounds of auto-assignments, one booking per org each, all in one window (two trucks
    per org, so from the third round on they are 409), until the scaling is done."""
    codes: list[int] = []
    rounds = 0
    while rounds < 3 or not done.done():
        bookings = [
            (o, await make_booking(o, o.customer, start=start))  # type: ignore[arg-type]
            for o in orgs
        ]
        answers = await asyncio.gather(
            *(
                client.post(f"/api/v1/bookings/{b.id}/assign/auto", headers=auth_headers(o.staff))
                for o, b in bookings
            )
        )
        codes += [r.status_code for r in answers]
        rounds += 1
    return codes


async def test_scale_up_and_down_under_pings_and_assignments(app: FastAPI, client: httpx.AsyncClient) -> None:
    fleet: Fleet = app.state.fleet
    start = len(fleet.shards)
    orgs = [await _org(org_id) for org_id in spread_ids(8, len(fleet.table.owner))]
    stream = Stream(orgs)
    assigned = 0
    # Scaling up, each move holds its slots 0.4 s longer than it needs (the test hook), so
    # pings and assignments surely arrive while one is under way; scaling down, no hook: the
    # pause printed is the real one. The shards hear of assignments through the outbox
    # (fleet.assignment_noted), so a worker delivers them meanwhile, as in production.
    outbox = OutboxWorker(get_settings())
    for step, (target, hold_s) in enumerate(((start + 1, 0.4), (start, 0.0))):
        stop = asyncio.Event()
        streaming = asyncio.create_task(stream.run(fleet, stop))
        delivering = asyncio.create_task(run_worker(outbox, stop))
        await asyncio.sleep(0.3)
        scaling = asyncio.create_task(fleet.scale(target, hold_s=hold_s))
        codes = await _assign_until(client, orgs, SOON + timedelta(days=step), scaling)
        report = await scaling
        await asyncio.sleep(0.3)
        stop.set()
        await streaming
        await delivering
        while await outbox.drain_once():  # the notes still due, before the shards are checked
            pass
        assert set(codes) <= {201, 409}, codes
        assert len(orgs) <= codes.count(201) <= 2 * len(orgs), codes
        assigned += codes.count(201)
        assert report["shards"] == target == len(fleet.shards)
        assert sum(m["orgs"] for m in report["moves"]) >= 2, report  # live state moved
        await _check(fleet, orgs, stream, assigned)
        print(
            f"\nscale to {target}: "
            + ", ".join(
                f"{m['from']}->{m['to']} {m['slots']} slots {m['orgs']} orgs {m['pause_ms']} ms"
                for m in report["moves"]
            )
            + f"; max pause {report['max_pause_ms']} ms, calls "
            f"that followed a move waited at most {fleet.stats.max_wait_ms:.1f} ms"
        )
    assert sum(stream.sent.values()) > 20 * len(stream.sent)  # pings flowed through it all


def test_shards_command_scales_the_running_cluster(app: FastAPI) -> None:
    fleet: Fleet = app.state.fleet
    env = {**os.environ, "RAY_ADDRESS": ray.get_runtime_context().gcs_address}
    count = len(fleet.shards)  # the same count: nothing moves, the session's fleet stays
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "shards", "scale", str(count)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "0 moves" in result.stdout
    assert result.stdout.count(" slots on node ") == count, result.stdout
    refused = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "shards", "show"],
        env={**env, "RAY_ADDRESS": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode != 0 and "RAY_ADDRESS" in refused.stderr


async def test_a_restarted_directory_finds_its_table_again(app: FastAPI) -> None:
    fleet: Fleet = app.state.fleet
    before, born = await fleet.describe(), await fleet.directory.incarnation.remote()
    ray.kill(fleet.directory, no_restart=False)
    deadline = time.monotonic() + 60
    while True:  # calls fail while the actor restarts
        try:
            if await fleet.directory.incarnation.remote() != born:
                break
        except ray.exceptions.RayActorError:
            pass
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
    assert await fleet.describe() == before
    shard = fleet.shards[0]  # a shard restarting now asks the restarted directory its slots
    owned, loaded = (await shard.ping.remote())["slots"], await shard.loaded_since.remote()
    ray.kill(shard, no_restart=False)
    while True:
        try:
            if await shard.loaded_since.remote() != loaded:  # rebuilt on a new process
                break
        except ray.exceptions.RayActorError:
            pass
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
    assert (await shard.ping.remote())["slots"] == owned
    org = await _org(uuid.uuid4())
    assert (await fleet.snapshot(org.id))["drivers"]  # routed and answered as before
