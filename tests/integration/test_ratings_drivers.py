"""Per-driver reviews and rating summary, one rating by id, and a customer's own ratings:
who may read what (404 to everyone else), hidden ratings, pages and exact figures."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from persistence.models import Driver, Organization, User
from tests.factories import auth_headers, make_driver, make_org, make_user
from tests.integration.test_ratings import completed_booking

API = "/api/v1"


async def rate(
    client: httpx.AsyncClient,
    org: Organization,
    driver: Driver | None,
    overall: int,
    driver_rating: int | None,
    comment: str = "",
    customer: User | None = None,
    days_ago: int = 1,
) -> dict[str, Any]:
    customer = customer or await make_user()
    booking = await completed_booking(org, customer, driver, days_ago=days_ago)
    body: dict[str, Any] = {"overall": overall, "comment": comment}
    if driver_rating is not None:
        body["driver_rating"] = driver_rating
    response = await client.post(
        f"{API}/bookings/{booking.id}/rating", json=body, headers=auth_headers(customer)
    )
    assert response.status_code == 201, response.text
    rating: dict[str, Any] = response.json()
    return rating


async def test_driver_reviews_and_summary_count_only_visible_ratings(client: httpx.AsyncClient) -> None:
    org = await make_org()
    driver, colleague = await make_driver(org), await make_driver(org)
    staff = auth_headers(await make_user("dispatcher", org))
    admin = auth_headers(await make_user("platform_admin"))
    given = [(5, 4, "a"), (3, 5, "b"), (4, None, "c"), (1, 1, "d")]
    ratings = [
        await rate(client, org, driver, overall, stars, comment, days_ago=10 - index)
        for index, (overall, stars, comment) in enumerate(given)
    ]
    await rate(client, org, colleague, 2, 2, "other driver")
    hidden = await client.post(
        f"{API}/ratings/{ratings[3]['id']}/hide", json={"reason": "abuse"}, headers=admin
    )
    assert hidden.status_code == 200

    summary = await client.get(f"{API}/drivers/{driver.id}/rating-summary", headers=staff)
    assert summary.status_code == 200, summary.text
    assert summary.json() == {
        "driver_id": str(driver.id),
        "average": 4.5,
        "count": 2,
        "distribution": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1},
        "breakdown": {
            "driver_rating": {
                "average": 4.5,
                "count": 2,
                "distribution": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1},
            },
            "overall": {"average": 4.0, "count": 3, "distribution": {"1": 0, "2": 0, "3": 1, "4": 1, "5": 1}},
        },
    }

    first = await client.get(f"{API}/drivers/{driver.id}/reviews?limit=2", headers=staff)
    assert first.status_code == 200, first.text
    page = first.json()
    assert (page["total"], page["limit"], page["offset"]) == (3, 2, 0)
    assert [item["comment"] for item in page["items"]] == ["c", "b"]  # newest first
    assert "customer_id" not in page["items"][0]
    rest = (await client.get(f"{API}/drivers/{driver.id}/reviews?limit=2&offset=2", headers=admin)).json()
    assert [item["comment"] for item in rest["items"]] == ["a"]

    empty = (
        await client.get(f"{API}/drivers/{(await make_driver(org)).id}/rating-summary", headers=staff)
    ).json()
    assert (empty["average"], empty["count"], empty["breakdown"]["overall"]["count"]) == (0, 0, 0)


async def test_driver_views_are_404_to_who_cannot_see_the_driver(client: httpx.AsyncClient) -> None:
    org, other_org = await make_org(), await make_org()
    driver_user = await make_user("driver", org)
    driver = await make_driver(org, user=driver_user)
    await rate(client, org, driver, 5, 5, "great")
    outsiders = [
        auth_headers(await make_user("mover_admin", other_org)),
        auth_headers(await make_user("dispatcher", other_org)),
        auth_headers(await make_user()),
    ]
    for path in ("reviews", "rating-summary"):
        url = f"{API}/drivers/{driver.id}/{path}"
        for headers in outsiders:
            response = await client.get(url, headers=headers)
            assert response.status_code == 404, (path, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
        own = await client.get(url, headers=auth_headers(driver_user, driver))
        assert own.status_code == 200, own.text
        unknown = await client.get(
            f"{API}/drivers/{uuid.uuid4()}/{path}", headers=auth_headers(await make_user("platform_admin"))
        )
        assert unknown.status_code == 404
    bad_page = await client.get(
        f"{API}/drivers/{driver.id}/reviews?limit=0", headers=auth_headers(driver_user, driver)
    )
    assert bad_page.status_code == 422


async def test_one_rating_by_id_for_its_customer_staff_and_admins_only(client: httpx.AsyncClient) -> None:
    org, other_org = await make_org(), await make_org()
    customer = await make_user()
    driver_user = await make_user("driver", org)
    driver = await make_driver(org, user=driver_user)
    rating = await rate(client, org, driver, 4, 5, "fine", customer=customer)
    url = f"{API}/ratings/{rating['id']}"
    insiders = [
        auth_headers(customer),
        auth_headers(await make_user("mover_admin", org)),
        auth_headers(await make_user("dispatcher", org)),
        auth_headers(await make_user("platform_admin")),
    ]
    outsiders = [
        auth_headers(await make_user()),
        auth_headers(await make_user("mover_admin", other_org)),
        auth_headers(driver_user, driver),
    ]
    for headers in insiders:
        response = await client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        assert (response.json()["id"], response.json()["overall"]) == (rating["id"], 4)
    for headers in outsiders:
        response = await client.get(url, headers=headers)
        assert response.status_code == 404, response.text
        assert "org_id" not in response.json()

    admin = auth_headers(await make_user("platform_admin"))
    assert (await client.post(f"{url}/hide", json={"reason": "abuse"}, headers=admin)).status_code == 200
    for headers in insiders:  # hidden: still theirs, their org's, the admins'
        response = await client.get(url, headers=headers)
        assert response.status_code == 200 and response.json()["hidden"] is True
    assert (await client.get(url, headers=outsiders[0])).status_code == 404
    assert (await client.get(f"{API}/ratings/{uuid.uuid4()}", headers=admin)).status_code == 404
    assert (await client.get(f"{API}/ratings/not-a-uuid", headers=admin)).status_code == 422


async def test_a_customer_lists_their_own_ratings(client: httpx.AsyncClient) -> None:
    org = await make_org()
    customer, other = await make_user(), await make_user()
    older = await rate(client, org, None, 3, None, "older", customer=customer, days_ago=5)
    newer = await rate(client, org, None, 5, None, "newer", customer=customer, days_ago=2)
    await rate(client, org, None, 1, None, "someone else's", customer=other)
    admin = auth_headers(await make_user("platform_admin"))
    assert (
        await client.post(f"{API}/ratings/{older['id']}/hide", json={"reason": "x"}, headers=admin)
    ).status_code == 200

    mine = await client.get(f"{API}/me/ratings", headers=auth_headers(customer))
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert body["total"] == 2
    assert [(item["id"], item["hidden"]) for item in body["items"]] == [
        (newer["id"], False),
        (older["id"], True),
    ]
    second = (await client.get(f"{API}/me/ratings?limit=1&offset=1", headers=auth_headers(customer))).json()
    assert [item["comment"] for item in second["items"]] == ["older"]
    staff = await client.get(f"{API}/me/ratings", headers=auth_headers(await make_user("mover_admin", org)))
    assert staff.status_code == 403
    assert (await client.get(f"{API}/me/ratings")).status_code == 401
