"""Regression tests for inputs found by probing that answered 500 or were accepted too laxly:
each must be a 422 problem+json and leave nothing written."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text

from persistence.session import SYSTEM, tenant_session
from tests.factories import auth_headers, make_driver, make_org, make_user

PLANET = {"type": "Polygon", "coordinates": [[[-180, -90], [180, -90], [180, 90], [-180, 90], [-180, -90]]]}


def _problem_422(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


async def _area_text(org_id: object) -> str:
    async with tenant_session(SYSTEM) as session:
        return str(
            await session.scalar(
                text("SELECT ST_AsText(service_area) FROM organizations WHERE id = :id"), {"id": org_id}
            )
        )


@pytest.mark.parametrize(
    "area", [{"type": "MultiPolygon", "coordinates": [{}]}, PLANET], ids=["object-as-polygon", "whole-planet"]
)
async def test_bad_service_areas_are_422_not_500(client: httpx.AsyncClient, area: dict[str, Any]) -> None:
    org = await make_org()
    before = await _area_text(org.id)
    response = await client.put(
        f"/api/v1/organizations/{org.id}/service-area",
        json=area,
        headers=auth_headers(await make_user("mover_admin", org)),
    )
    assert _problem_422(response)["field"] == "service_area"
    assert await _area_text(org.id) == before


async def test_trail_of_the_last_representable_day_is_422(client: httpx.AsyncClient) -> None:
    org = await make_org()
    driver = await make_driver(org)
    response = await client.get(
        f"/api/v1/drivers/{driver.id}/trail",
        params={"date": "9999-12-31"},
        headers=auth_headers(await make_user("mover_admin", org)),
    )
    assert _problem_422(response)["field"] == "date"


async def test_booleans_in_bodies_are_strict(client: httpx.AsyncClient) -> None:
    """Regression: `0`/`1` (and "yes") were taken as booleans; a UUID or date string still is
    what it says (FastAPI validates decoded JSON, where those arrive as strings)."""
    headers = auth_headers(await make_user())
    url = "/api/v1/me/notification-preferences"
    before = (await client.get(url, headers=headers)).json()
    for bad in (
        {"email": 0},
        {"sms": 1},
        {"email": "yes"},
        {"events": {"booking_reminder": {"email": 1, "sms": True}}},
    ):
        _problem_422(await client.put(url, json=bad, headers=headers))
    assert (await client.get(url, headers=headers)).json() == before
    saved = await client.put(url, json={"email": False, "sms": True}, headers=headers)
    assert saved.status_code == 200 and saved.json()["email"] is False
