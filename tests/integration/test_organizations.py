"""Organizations through the API: onboarding, directory, profile and pricing, service area, staff."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from persistence.models import Driver, Organization, User
from persistence.session import SYSTEM, tenant_session
from tests.factories import auth_headers, make_booking, make_org, make_user, unique_code

AREA = {
    "type": "Polygon",
    "coordinates": [[[13.2, 52.4], [13.6, 52.4], [13.6, 52.65], [13.2, 52.65], [13.2, 52.4]]],
}


def onboarding(**fields: object) -> dict[str, object]:
    body: dict[str, object] = {
        "name": "Spree Movers",
        "code": unique_code("S"),
        "service_area": AREA,
        "base_location": {"lon": 13.4, "lat": 52.5},
        "hourly_rate_cents": 4500,
        "per_km_cents": 150,
        "minimum_charge_cents": 15000,
        "currency": "EUR",
        "timezone": "Europe/Berlin",
    }
    body.update(fields)
    return body


async def _count(model: type) -> int:
    async with tenant_session(SYSTEM) as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_customer_onboards_and_becomes_mover_admin(client: httpx.AsyncClient) -> None:
    customer = await make_user("customer")
    answer = await client.post("/api/v1/organizations", json=onboarding(), headers=auth_headers(customer))
    assert answer.status_code == 201, answer.text
    body = answer.json()
    org_id = body["organization"]["id"]
    assert body["organization"]["verified"] is False
    assert body["admin_user_id"] == str(customer.id)
    async with tenant_session(SYSTEM) as session:
        user = await session.get(User, customer.id)
        assert user is not None and user.role == "mover_admin" and str(user.org_id) == org_id
    # The fresh token carries the new role: the new admin edits pricing with it.
    admin = {"Authorization": f"Bearer {body['access_token']}"}
    patched = await client.patch(
        f"/api/v1/organizations/{org_id}", headers=admin, json={"hourly_rate_cents": 5000, "currency": "USD"}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["hourly_rate_cents"] == 5000 and patched.json()["currency"] == "USD"
    area = await client.get(f"/api/v1/organizations/{org_id}/service-area", headers=admin)
    assert area.json()["type"] == "MultiPolygon"
    assert area.json()["coordinates"][0] == AREA["coordinates"]


async def test_customer_with_bookings_keeps_their_account(client: httpx.AsyncClient) -> None:
    customer = await make_user("customer")
    await make_booking(await make_org(), customer)
    before = await _count(Organization)
    answer = await client.post("/api/v1/organizations", json=onboarding(), headers=auth_headers(customer))
    assert answer.status_code == 409
    assert answer.json()["field"] == "admin_email"
    assert await _count(Organization) == before


async def test_platform_admin_onboards_for_someone(client: httpx.AsyncClient) -> None:
    admin = await make_user("platform_admin")
    email = f"{unique_code('A').lower()}@movers.example"
    missing = await client.post("/api/v1/organizations", json=onboarding(), headers=auth_headers(admin))
    assert missing.status_code == 422 and missing.json()["field"] == "admin_email"
    answer = await client.post(
        "/api/v1/organizations", json=onboarding(admin_email=email), headers=auth_headers(admin)
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["access_token"] is None
    async with tenant_session(SYSTEM) as session:
        user = await session.scalar(select(User).where(User.email == email))
        assert user is not None and user.role == "mover_admin"


async def test_duplicate_code_is_a_named_conflict(client: httpx.AsyncClient) -> None:
    org = await make_org()
    answer = await client.post(
        "/api/v1/organizations",
        json=onboarding(code=org.code),
        headers=auth_headers(await make_user("customer")),
    )
    assert answer.status_code == 409
    assert answer.json()["field"] == "code"


async def test_directory_paginates_filters_and_sorts(client: httpx.AsyncClient) -> None:
    tag = unique_code("D")
    for name in ("Alpha", "Charlie", "Bravo"):
        await make_org(name=f"{tag} {name}")
    headers = auth_headers(await make_user("customer"))
    page = await client.get(
        "/api/v1/organizations", headers=headers, params={"name": tag, "limit": 2, "sort": "-name"}
    )
    assert page.status_code == 200, page.text
    body = page.json()
    assert body["total"] == 3 and body["limit"] == 2
    assert [o["name"] for o in body["items"]] == [f"{tag} Charlie", f"{tag} Bravo"]
    rest = await client.get(
        "/api/v1/organizations",
        headers=headers,
        params={"name": tag, "limit": 2, "offset": 2, "sort": "-name"},
    )
    assert [o["name"] for o in rest.json()["items"]] == [f"{tag} Alpha"]
    far = await client.get(
        "/api/v1/organizations", headers=headers, params={"name": tag, "lon": 2.35, "lat": 48.85}
    )
    assert far.json()["total"] == 0
    bad_sort = await client.get("/api/v1/organizations", headers=headers, params={"sort": "password"})
    assert bad_sort.status_code == 422


async def test_only_its_admin_edits_an_organization(client: httpx.AsyncClient) -> None:
    org, other = await make_org(), await make_org()
    admin = await make_user("mover_admin", org)
    dispatcher = await make_user("dispatcher", org)
    foreign_admin = await make_user("mover_admin", other)
    url = f"/api/v1/organizations/{org.id}"
    change = {"minimum_charge_cents": 20000}
    assert (await client.patch(url, json=change, headers=auth_headers(dispatcher))).status_code == 403
    assert (await client.patch(url, json=change, headers=auth_headers(foreign_admin))).status_code == 404
    assert (
        await client.put(f"{url}/service-area", json=AREA, headers=auth_headers(foreign_admin))
    ).status_code == 404
    assert (
        await client.patch(url, json=change, headers=auth_headers(await make_user("customer")))
    ).status_code == 404
    ok = await client.patch(url, json=change, headers=auth_headers(admin))
    assert ok.status_code == 200 and ok.json()["minimum_charge_cents"] == 20000
    platform = await client.patch(
        url, json={"name": "Renamed Movers"}, headers=auth_headers(await make_user("platform_admin"))
    )
    assert platform.status_code == 200 and platform.json()["name"] == "Renamed Movers"


async def test_service_area_validation(client: httpx.AsyncClient) -> None:
    org = await make_org()
    headers = auth_headers(await make_user("mover_admin", org))
    url = f"/api/v1/organizations/{org.id}/service-area"
    bowtie = {
        "type": "Polygon",
        "coordinates": [[[13.0, 52.0], [13.5, 52.5], [13.5, 52.0], [13.0, 52.5], [13.0, 52.0]]],
    }
    out_of_range = {
        "type": "Polygon",
        "coordinates": [[[13.0, 52.0], [200.0, 52.0], [13.0, 95.0], [13.0, 52.0]]],
    }
    for bad in (
        bowtie,
        out_of_range,
        {"type": "Polygon", "coordinates": [[[1, 2]]]},
        {"type": "Point", "coordinates": [13.4, 52.5]},
        {"type": "Polygon", "coordinates": [[["a", "b"]]]},
        {"type": "Polygon", "coordinates": []},
    ):
        answer = await client.put(url, json=bad, headers=headers)
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert "service_area" in answer.text or "coordinates" in answer.text or "type" in answer.text
    multi = {"type": "MultiPolygon", "coordinates": [AREA["coordinates"]]}
    saved = await client.put(url, json=multi, headers=headers)
    assert saved.status_code == 200, saved.text
    assert saved.json() == multi


async def test_staff_invites(client: httpx.AsyncClient) -> None:
    org = await make_org()
    admin = auth_headers(await make_user("mover_admin", org))
    url = f"/api/v1/organizations/{org.id}/staff"
    email = f"{unique_code('D').lower()}@movers.example"
    driver = await client.post(
        url,
        headers=admin,
        json={"role": "driver", "email": email, "full_name": "Jonas Weber", "skills": ["driver", "foreman"]},
    )
    assert driver.status_code == 201, driver.text
    assert driver.json()["driver_id"] is not None
    async with tenant_session(SYSTEM) as session:
        profile = await session.get(Driver, driver.json()["driver_id"])
        assert profile is not None and str(profile.user_id) == driver.json()["user_id"]
        assert profile.skills == ["driver", "foreman"]
    again = await client.post(
        url, headers=admin, json={"role": "dispatcher", "email": email, "full_name": "Twin"}
    )
    assert again.status_code == 409
    no_contact = await client.post(url, headers=admin, json={"role": "dispatcher", "full_name": "Nobody"})
    assert no_contact.status_code == 422
    as_admin_of_other = auth_headers(await make_user("mover_admin", await make_org()))
    assert (
        await client.post(
            url,
            headers=as_admin_of_other,
            json={"role": "dispatcher", "phone": "+4930999111", "full_name": "X"},
        )
    ).status_code == 404


async def test_malformed_organization_input_writes_nothing(client: httpx.AsyncClient) -> None:
    customer = auth_headers(await make_user("customer"))
    before = (await _count(Organization), await _count(User))
    for body in (
        onboarding(code="lower"),
        onboarding(hourly_rate_cents=-1),
        onboarding(hourly_rate_cents="cheap"),
        onboarding(currency="EURO"),
        onboarding(timezone="Europe/Atlantis"),
        onboarding(base_location={"lon": 13.4, "lat": 91}),
        onboarding(service_area={"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}),
        onboarding(contact_email="not-an-email"),
        onboarding(extra="field"),
        {"name": "Only a name"},
    ):
        answer = await client.post("/api/v1/organizations", json=body, headers=customer)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    raw = await client.post(
        "/api/v1/organizations",
        content=b'{"name": ',
        headers={**customer, "content-type": "application/json"},
    )
    assert raw.status_code == 422
    assert (await _count(Organization), await _count(User)) == before
    org = await make_org()
    admin = auth_headers(await make_user("mover_admin", org))
    before = (await _count(Organization), await _count(User))
    url = f"/api/v1/organizations/{org.id}"
    for change in (
        {"per_km_cents": -5},
        {"name": None},
        {"base_location": {"lon": 500, "lat": 0}},
        {"currency": 3},
        {"verified": True},
    ):
        answer = await client.patch(url, json=change, headers=admin)
        assert answer.status_code == 422, (change, answer.text)
    for invitation in (
        {"role": "mover_admin", "email": "boss@movers.example", "full_name": "B"},
        {"role": "driver", "email": "nope", "full_name": "B"},
        {"role": "driver", "phone": "+4930111", "full_name": "B", "home_base": {"lon": 0, "lat": -100}},
    ):
        answer = await client.post(f"{url}/staff", json=invitation, headers=admin)
        assert answer.status_code == 422, (invitation, answer.text)
    unknown = "00000000-0000-0000-0000-000000000000"
    assert (await client.get(f"/api/v1/organizations/{unknown}", headers=admin)).status_code == 404
    assert (
        await client.get(f"/api/v1/organizations/{unknown}/service-area", headers=admin)
    ).status_code == 404
    assert (await client.get("/api/v1/organizations/123", headers=admin)).status_code == 422
    assert (await _count(Organization), await _count(User)) == before
    unchanged = (await client.get(url, headers=admin)).json()
    assert unchanged["per_km_cents"] == 150 and unchanged["verified"] is True
