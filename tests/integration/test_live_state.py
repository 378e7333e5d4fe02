"""Live driver state in the fleet shards: batched pings, ordering, geofence arrivals, snapshot."""

import time

import pytest
from fastapi import FastAPI

from persistence.config import get_settings
from tests.factories import make_driver, make_org

pytestmark = pytest.mark.skipif(not get_settings().ray_enabled, reason="needs the Ray fleet")


def ping(org, driver, lat, lon, ts, **extra):  # type: ignore[no-untyped-def]
    return {
        "org_id": str(org.id),
        "driver_id": str(driver.id),
        "lat": lat,
        "lon": lon,
        "heading": extra.get("heading"),
        "speed": extra.get("speed"),
        "accuracy": 5.0,
        "ts": ts,
    }


async def test_pings_update_state_in_order_and_raise_arrivals(app: FastAPI) -> None:
    fleet = app.state.fleet
    org, other_org = await make_org(), await make_org()
    driver, other = await make_driver(org), await make_driver(other_org)
    now = time.time()
    await fleet.set_driver_job(
        org.id,
        driver.id,
        {
            "booking_id": "b-1",
            "status": "en_route",
            "pickup_lat": 52.53,
            "pickup_lon": 13.40,
            "dropoff_lat": 52.50,
            "dropoff_lon": 13.37,
        },
    )
    events = await fleet.ingest(
        [
            ping(org, driver, 52.52, 13.40, now - 2, heading=90.0, speed=8.0),
            ping(other_org, other, 52.40, 13.20, now - 2),
            ping(org, driver, 52.10, 13.10, now - 5),  # out of order: dropped
            {**ping(org, driver, 52.52, 13.40, now), "driver_id": "not-a-driver-of-ours"},
        ]
    )
    assert [e for e in events if e["type"] == "driver.arrived"] == []  # job.eta aside
    snap = await fleet.snapshot(org.id)
    row = next(d for d in snap["drivers"] if d["id"] == str(driver.id))
    assert (row["lat"], row["lon"], row["heading"], row["speed"]) == (52.52, 13.40, 90.0, 8.0)
    assert row["online"] is True
    assert [d["id"] for d in snap["drivers"]] == [str(driver.id)]  # org B's driver not here

    arrived = await fleet.ingest([ping(org, driver, 52.5301, 13.4001, now + 1)])
    assert arrived == [
        {
            "type": "driver.arrived",
            "org_id": str(org.id),
            "driver_id": str(driver.id),
            "booking_id": "b-1",
            "stop": "pickup",
            "ts": now + 1,
        }
    ]
    assert await fleet.ingest([ping(org, driver, 52.5302, 13.4, now + 2)]) == []  # once only

    await fleet.refresh_org(org.id)  # a reload from the database keeps the live position
    row = next(d for d in (await fleet.snapshot(org.id))["drivers"] if d["id"] == str(driver.id))
    assert row["lat"] == 52.5302
