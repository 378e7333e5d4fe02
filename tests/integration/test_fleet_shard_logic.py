"""The fleet shard's own code (actors/fleet.py) run in this process over real PostgreSQL: the
class Ray would host, without Ray. Ray ends actor processes without running their exit hooks,
so coverage never sees what runs inside them; these tests drive the same methods directly:
lazy loading, rank, offers, plan, pings, alerts, reloads and the slot handover between two
shards (held calls, Moved answers, a called-off move)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from actors.fleet import FleetShard, ShardConfig
from actors.slots import Moved, slot_of
from persistence.config import get_settings
from tests.factories import make_driver, make_org, make_truck

SLOTS = 4
NEAR = (13.405, 52.52)  # (lon, lat): the pickup, at the org's base
FAR = (13.50, 52.56)  # about 8 km north-east


def shard(shard_id: int, owned: set[int], version: int = 1) -> Any:
    """The shard class as Ray would run it, owning `owned`, loaded (nothing yet: each org is
    read from the database on its first call, as a shard does for an org new to it)."""
    made = FleetShard.__ray_actor_class__(shard_id, SLOTS, ShardConfig.of(get_settings()))
    made.slots.adopt(owned, version)
    loaded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    loaded.set_result(None)
    made._loaded = loaded
    return made


async def an_org() -> tuple[str, str, str, str]:
    """(org, near driver, far driver, truck) ids."""
    org = await make_org()
    near = await make_driver(org, lon=NEAR[0], lat=NEAR[1], full_name="Near")
    far = await make_driver(org, lon=FAR[0], lat=FAR[1], full_name="Far")
    truck = await make_truck(org)
    return str(org.id), str(near.id), str(far.id), str(truck.id)


def spec(start_in_s: float = 3 * 86400, **changes: Any) -> dict[str, Any]:
    start = time.time() + start_in_s
    found = {
        "pickup_lat": NEAR[1],
        "pickup_lon": NEAR[0],
        "dropoff_lat": 52.51,
        "dropoff_lon": 13.375,
        "start": start,
        "end": start + 4 * 3600,
        "volume_m3": 20.0,
        "crew_size": 2,
    }
    return {**found, **changes}


def ping(org_id: str, driver_id: str, lat: float, ts: float) -> dict[str, Any]:
    return {"org_id": org_id, "driver_id": driver_id, "lat": lat, "lon": NEAR[0], "ts": ts, "speed": 5.0}


async def test_an_org_is_loaded_on_first_use_and_ranked_by_distance() -> None:
    org_id, near, far, truck = await an_org()
    fleet = shard(0, set(range(SLOTS)))
    state = await fleet.state_of(org_id)
    assert state["drivers"] == sorted([near, far]) and state["trucks"] == [truck]
    assert state["busy"] == []
    ranked = await fleet.rank(org_id, spec())
    assert [c["driver_id"] for c in ranked] == [near, far]
    assert ranked[0]["truck_id"] == truck
    assert ranked[0]["breakdown"]["deadhead_km"] < ranked[1]["breakdown"]["deadhead_km"]
    # An organization the database does not know: nothing to rank, an empty board.
    unknown = str(uuid.uuid4())
    assert await fleet.rank(unknown, spec()) == []
    assert await fleet.snapshot(unknown) == {"org_id": unknown, "drivers": [], "trucks": []}
    assert await fleet.state_of(unknown) == {}


async def test_a_noted_assignment_makes_the_driver_busy_for_that_window() -> None:
    org_id, near, far, truck = await an_org()
    fleet = shard(0, set(range(SLOTS)))
    job = spec()
    await fleet.state_of(org_id)  # loaded
    assert await fleet.note_assignment(org_id, near, truck, job["start"], job["end"], 52.51, 13.375) is None
    busy = (await fleet.state_of(org_id))["busy"]
    assert busy == [(near, job["start"], job["end"])]
    # The one truck is taken for that window too: nobody is left to rank for it.
    assert await fleet.rank(org_id, job) == []
    later = spec(start_in_s=4 * 86400)
    assert {c["driver_id"] for c in await fleet.rank(org_id, later)} == {near, far}


async def test_plan_pairs_jobs_with_drivers_and_an_empty_day_plans_nothing() -> None:
    org_id, near, _far, truck = await an_org()
    fleet = shard(0, set(range(SLOTS)))
    day = await fleet.plan(org_id, [spec()])
    assert day["method"] == "matching" and day["unassigned"] == []
    assert day["pairs"] == [{"job": 0, "driver_id": near, "truck_id": truck, "deadhead_km": 0.0}]
    assert day["greedy_assigned"] == 1
    empty = await fleet.plan(org_id, [])
    assert empty["pairs"] == [] and empty["unassigned"] == []
    nobody = await fleet.plan(str(uuid.uuid4()), [spec(), spec()])
    assert nobody["pairs"] == [] and nobody["unassigned"] == [0, 1]


async def test_offers_come_from_verified_orgs_serving_the_pickup() -> None:
    org_id, *_ = await an_org()
    elsewhere = await make_org(center=(2.35, 48.85))  # Paris: does not serve a Berlin pickup
    unverified = await make_org(verified=False)
    await make_driver(unverified)
    await make_truck(unverified)
    fleet = shard(0, set(range(SLOTS)))
    for known in (org_id, str(elsewhere.id), str(unverified.id)):
        await fleet.state_of(known)
    found = await fleet.offers(spec(), None, 1)
    assert [o["org_id"] for o in found] == [org_id]
    assert found[0]["price_cents"] > 0 and found[0]["currency"] == "EUR"
    assert found[0]["deadhead_km"] == 0.0
    # A caller whose slot table predates the shard's last change must refresh first.
    assert await fleet.offers(spec(), None, 0) == Moved(1)


async def test_pings_move_drivers_on_the_board_and_silence_raises_one_offline_alert() -> None:
    org_id, near, far, _truck = await an_org()
    fleet = shard(0, set(range(SLOTS)))
    now = time.time()
    result = await fleet.ingest_pings([ping(org_id, near, 52.53, now), ping(org_id, far, 52.54, now - 120)])
    assert result == {"events": [], "moved": [], "version": 1}
    board = {d["id"]: d for d in (await fleet.snapshot(org_id))["drivers"]}
    assert board[near]["lat"] == 52.53 and board[near]["online"] and board[near]["speed"] == 5.0
    assert board[far]["online"] is False and board[far]["heading"] is None
    alerts = await fleet.sweep_alerts(300.0, 1)
    assert [(a["type"], a["data"]["driver_id"]) for a in alerts] == [("alert.offline", far)]
    assert await fleet.sweep_alerts(300.0, 1) == []  # once, until the driver pings again
    assert await fleet.sweep_alerts(300.0, 0) == Moved(1)
    # A job in hand whose window started long ago, its driver not there: late, once.
    await fleet.set_driver_job(
        org_id,
        near,
        {"booking_id": "b1", "status": "assigned", "window_start": now - 3600, "pickup_lat": 52.6},
    )
    late = await fleet.sweep_alerts(300.0, 1)
    assert [(a["type"], a["data"]["booking_id"]) for a in late] == [("alert.late", "b1")]
    assert await fleet.sweep_alerts(300.0, 1) == []


async def test_a_reload_keeps_the_live_positions_and_finds_new_drivers() -> None:
    org_id, near, _far, _truck = await an_org()
    fleet = shard(0, set(range(SLOTS)))
    await fleet.ingest_pings([ping(org_id, near, 52.53, time.time())])
    org = await make_driver(await _org_row(org_id), full_name="New")
    assert await fleet.refresh_org(org_id) is None
    state = await fleet.state_of(org_id)
    assert str(org.id) in state["drivers"]
    lat, _lon, seen, applied = state["live"][near]
    assert (lat, applied) == (52.53, 1) and seen > 0


async def _org_row(org_id: str) -> Any:
    from persistence.models import Organization
    from persistence.session import SYSTEM, tenant_session

    async with tenant_session(SYSTEM) as session:
        return await session.get(Organization, uuid.UUID(org_id))


async def test_a_handover_holds_calls_then_sends_them_to_the_new_owner() -> None:
    org_id, near, _far, _truck = await an_org()
    slot = slot_of(org_id, SLOTS)
    old, new = shard(0, set(range(SLOTS))), shard(1, set())
    await old.ingest_pings([ping(org_id, near, 52.53, time.time())])
    await old.sweep_alerts(300.0, 1)
    exported = await old.hand_over([slot])
    # A ping batch for the moving slot waits on the old owner until the handover ends...
    held = asyncio.ensure_future(old.ingest_pings([ping(org_id, near, 52.54, time.time())]))
    await asyncio.sleep(0.05)
    assert not held.done()
    assert await new.take_over([slot], exported, 2) == 1
    await old.let_go([slot], 2)
    # ...and then comes back as moved, with the version to refresh to.
    answer = await asyncio.wait_for(held, 5)
    assert answer["events"] == [] and answer["version"] == 2
    assert [p["lat"] for p in answer["moved"]] == [52.54]
    assert await old.rank(org_id, spec()) == Moved(2)
    assert await old.snapshot(org_id) == Moved(2)
    # The new owner has the live state as it was (no reload from the database).
    lat, _lon, _seen, applied = (await new.state_of(org_id))["live"][near]
    assert (lat, applied) == (52.53, 1)
    assert (await new.ingest_pings(answer["moved"]))["moved"] == []
    assert (await new.state_of(org_id))["live"][near][0] == 52.54


async def test_a_called_off_handover_serves_the_held_calls_where_they_were() -> None:
    org_id, near, _far, _truck = await an_org()
    slot = slot_of(org_id, SLOTS)
    fleet = shard(0, set(range(SLOTS)))
    await fleet.state_of(org_id)
    await fleet.hand_over([slot])
    held = asyncio.ensure_future(fleet.ingest_pings([ping(org_id, near, 52.55, time.time())]))
    await asyncio.sleep(0.05)
    assert not held.done()
    await fleet.call_off([slot])
    answer = await asyncio.wait_for(held, 5)
    assert answer["moved"] == [] and answer["version"] == 1
    assert (await fleet.state_of(org_id))["live"][near][0] == 52.55
