"""Location history: pings reach PostGIS in batches (latest + thinned breadcrumbs), and the
day's trail comes back as GeoJSON to the org's staff, the driver and platform admins only."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import httpx
from sqlalchemy import text

from persistence.config import get_settings
from persistence.models import Driver, Organization
from persistence.positions import PositionWriter
from persistence.session import SYSTEM, tenant_session
from tests.factories import auth_headers, make_driver, make_org, make_user


def crumb(org: Organization, driver: Driver, lat: float, lon: float, ts: float) -> dict[str, Any]:
    return {
        "org_id": str(org.id),
        "driver_id": str(driver.id),
        "lat": lat,
        "lon": lon,
        "heading": 90.0,
        "speed": 8.0,
        "accuracy": 4.0,
        "ts": ts,
    }


async def test_writer_batches_and_trail_as_geojson(client: httpx.AsyncClient) -> None:
    org, other_org = await make_org(), await make_org()
    driver_user = await make_user("driver", org)
    driver = await make_driver(org, user=driver_user)
    writer = PositionWriter(get_settings())
    start = dt.datetime.combine(dt.datetime.now(dt.UTC).date(), dt.time(8), dt.UTC).timestamp()
    writer.add([crumb(org, driver, 52.60, 13.50, start - 86_400)])  # yesterday
    writer.add([crumb(org, driver, 52.50 + i / 1000, 13.40, start + i) for i in range(60)])
    assert await writer.flush() == 13  # one breadcrumb per 5 s of the 60 s, plus yesterday's
    async with tenant_session(SYSTEM) as session:
        latest = (
            await session.execute(
                text(
                    "SELECT ST_Y(location::geometry) AS lat, extract(epoch FROM recorded_at) AS ts "
                    "FROM driver_positions WHERE driver_id = :d"
                ),
                {"d": driver.id},
            )
        ).one()
    assert (round(latest.lat, 3), float(latest.ts)) == (52.559, start + 59)

    day = dt.datetime.fromtimestamp(start, dt.UTC).date().isoformat()
    url = f"/api/v1/drivers/{driver.id}/trail?date={day}"
    staff = await make_user("dispatcher", org)
    response = await client.get(url, headers=auth_headers(staff))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/geo+json")
    body = response.json()
    assert body["type"] == "FeatureCollection"
    line, *points = body["features"]
    assert line["geometry"]["type"] == "LineString" and line["properties"]["points"] == 12
    assert line["geometry"]["coordinates"][0] == [13.4, 52.5]
    assert [p["geometry"]["type"] for p in points] == ["Point"] * 12
    assert points[1]["properties"]["recorded_at"] > points[0]["properties"]["recorded_at"]
    assert points[0]["properties"]["speed"] == 8.0

    own = await client.get(url, headers=auth_headers(driver_user, driver))
    admin = await client.get(url, headers=auth_headers(await make_user("platform_admin")))
    assert own.status_code == admin.status_code == 200
    colleague_user = await make_user("driver", org)
    colleague = await make_driver(org, user=colleague_user)
    for outsider in (
        auth_headers(await make_user("dispatcher", other_org)),
        auth_headers(await make_user("customer")),
        auth_headers(colleague_user, colleague),
    ):
        assert (await client.get(url, headers=outsider)).status_code == 404
    assert (await client.get(url)).status_code == 401
    bad = await client.get(f"/api/v1/drivers/{driver.id}/trail?date=2024-13-45", headers=auth_headers(staff))
    assert bad.status_code == 422
    empty = await client.get(
        f"/api/v1/drivers/{driver.id}/trail?date=2001-01-01", headers=auth_headers(staff)
    )
    assert empty.json() == {"type": "FeatureCollection", "features": []}
    assert time.time() > start - 86_400
