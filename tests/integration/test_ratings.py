"""Ratings through the API: ownership, the edit window, hiding, reviews, and exact aggregates
under concurrent inserts."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import Range

from persistence.models import Booking, BookingAssignment, Driver, Organization, Rating, User
from persistence.session import SYSTEM, tenant_session
from tests.factories import auth_headers, make_booking, make_driver, make_org, make_truck, make_user


async def completed_booking(
    org: Organization, customer: User, driver: Driver | None, days_ago: int = 1
) -> Booking:
    start = (datetime.now(UTC) - timedelta(days=days_ago)).replace(microsecond=0)
    booking = await make_booking(org, customer, start=start, status="completed")
    if driver is not None:
        truck = await make_truck(org)
        async with tenant_session(SYSTEM) as session:
            session.add(
                BookingAssignment(
                    org_id=org.id,
                    booking_id=booking.id,
                    driver_id=driver.id,
                    truck_id=truck.id,
                    window=Range(booking.window_start, booking.window_end),
                )
            )
    return booking


async def fetch(model: type, key: object) -> object:
    async with tenant_session(SYSTEM) as session:
        return await session.get(model, key)


async def test_customer_rates_completed_booking_once(client: httpx.AsyncClient) -> None:
    org = await make_org()
    driver = await make_driver(org)
    customer = await make_user()
    booking = await completed_booking(org, customer, driver)
    url = f"/api/v1/bookings/{booking.id}/rating"
    body = {"overall": 4, "driver_rating": 5, "comment": "Quick and careful"}

    created = await client.post(url, json=body, headers=auth_headers(customer))
    assert created.status_code == 201, created.text
    rating = created.json()
    assert rating["driver_id"] == str(driver.id) and rating["overall"] == 4
    again = await client.post(url, json=body, headers=auth_headers(customer))
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")

    org_row = await fetch(Organization, org.id)
    driver_row = await fetch(Driver, driver.id)
    assert (org_row.rating_count, org_row.rating_avg) == (1, Decimal("4.00"))
    assert driver_row.rating_avg == Decimal("5.00")
    shown = await client.get(url, headers=auth_headers(customer))
    assert shown.status_code == 200 and shown.json()["id"] == rating["id"]


async def test_who_may_rate_and_what(client: httpx.AsyncClient) -> None:
    org = await make_org()
    customer, stranger = await make_user(), await make_user()
    staff = await make_user("mover_admin", org)
    booking = await completed_booking(org, customer, None)
    url = f"/api/v1/bookings/{booking.id}/rating"

    assert (await client.post(url, json={"overall": 5}, headers=auth_headers(stranger))).status_code == 404
    assert (await client.post(url, json={"overall": 5}, headers=auth_headers(staff))).status_code == 403
    for bad in (
        {"overall": 6},
        {"overall": 0},
        {},
        {"overall": 3, "comment": "x" * 2001},
        {"overall": 3, "extra": 1},
    ):
        response = await client.post(url, json=bad, headers=auth_headers(customer))
        assert response.status_code == 422, bad
    no_driver = await client.post(
        url, json={"overall": 5, "driver_rating": 5}, headers=auth_headers(customer)
    )
    assert no_driver.status_code == 422 and "driver" in no_driver.json()["detail"]
    pending = await make_booking(org, customer, status="confirmed")
    not_done = await client.post(
        f"/api/v1/bookings/{pending.id}/rating", json={"overall": 5}, headers=auth_headers(customer)
    )
    assert not_done.status_code == 409 and not_done.json()["booking_status"] == "confirmed"
    async with tenant_session(SYSTEM) as session:
        assert await session.get(Rating, booking.id) is None


async def test_edit_and_withdraw_within_window_move_the_counters(client: httpx.AsyncClient) -> None:
    org = await make_org()
    driver = await make_driver(org)
    customer, other = await make_user(), await make_user()
    booking = await completed_booking(org, customer, driver)
    created = await client.post(
        f"/api/v1/bookings/{booking.id}/rating",
        json={"overall": 5, "driver_rating": 5},
        headers=auth_headers(customer),
    )
    rating_url = f"/api/v1/ratings/{created.json()['id']}"

    edited = await client.patch(
        rating_url, json={"overall": 2, "driver_rating": 3}, headers=auth_headers(customer)
    )
    assert edited.status_code == 200 and edited.json()["overall"] == 2, edited.text
    summary = (
        await client.get(f"/api/v1/organizations/{org.id}/rating-summary", headers=auth_headers(other))
    ).json()
    assert summary == {
        "org_id": str(org.id),
        "average": 2.0,
        "count": 1,
        "breakdown": {"1": 0, "2": 1, "3": 0, "4": 0, "5": 0},
    }
    assert (await fetch(Driver, driver.id)).rating_avg == Decimal("3.00")
    assert (await client.patch(rating_url, json={}, headers=auth_headers(customer))).status_code == 422
    assert (
        await client.patch(rating_url, json={"overall": 1}, headers=auth_headers(other))
    ).status_code == 404

    async with tenant_session(SYSTEM) as session:
        await session.execute(
            update(Rating)
            .where(Rating.booking_id == booking.id)
            .values(created_at=datetime.now(UTC) - timedelta(days=8))
        )
    closed = await client.patch(rating_url, json={"overall": 1}, headers=auth_headers(customer))
    assert closed.status_code == 409 and "editable_until" in closed.json()
    async with tenant_session(SYSTEM) as session:
        await session.execute(
            update(Rating).where(Rating.booking_id == booking.id).values(created_at=datetime.now(UTC))
        )
    assert (await client.delete(rating_url, headers=auth_headers(customer))).status_code == 204
    org_row = await fetch(Organization, org.id)
    assert (org_row.rating_count, org_row.rating_avg) == (0, Decimal("0"))
    assert (await fetch(Driver, driver.id)).rating_avg == Decimal("0")


async def test_admin_hides_review_from_list_and_averages(client: httpx.AsyncClient) -> None:
    org = await make_org()
    admin = await make_user("platform_admin")
    reader = await make_user()
    ratings = []
    for overall, comment in [(5, "great"), (1, "rude words"), (4, "good")]:
        customer = await make_user()
        booking = await completed_booking(org, customer, None)
        response = await client.post(
            f"/api/v1/bookings/{booking.id}/rating",
            json={"overall": overall, "comment": comment},
            headers=auth_headers(customer),
        )
        ratings.append(response.json())
    hide_url = f"/api/v1/ratings/{ratings[1]['id']}/hide"
    assert (
        await client.post(hide_url, json={"reason": "abuse"}, headers=auth_headers(reader))
    ).status_code == 403
    hidden = await client.post(hide_url, json={"reason": "abuse"}, headers=auth_headers(admin))
    assert hidden.status_code == 200 and hidden.json()["hidden"] is True
    hidden_booking = f"/api/v1/bookings/{hidden.json()['booking_id']}/rating"
    assert (await client.get(hidden_booking, headers=auth_headers(reader))).status_code == 404
    assert (
        await client.post(hide_url, json={"reason": "abuse"}, headers=auth_headers(admin))
    ).status_code == 200  # hiding twice changes nothing

    page = (
        await client.get(f"/api/v1/organizations/{org.id}/reviews?limit=1", headers=auth_headers(reader))
    ).json()
    assert page["total"] == 2 and page["next_offset"] == 1
    assert page["items"][0]["comment"] == "good" and "customer_id" not in page["items"][0]
    rest = (
        await client.get(
            f"/api/v1/organizations/{org.id}/reviews?limit=1&offset=1", headers=auth_headers(reader)
        )
    ).json()
    assert [item["comment"] for item in rest["items"]] == ["great"] and rest["next_offset"] is None
    summary = (
        await client.get(f"/api/v1/organizations/{org.id}/rating-summary", headers=auth_headers(reader))
    ).json()
    assert (summary["count"], summary["average"], summary["breakdown"]["1"]) == (2, 4.5, 0)

    restored = await client.post(f"/api/v1/ratings/{ratings[1]['id']}/unhide", headers=auth_headers(admin))
    assert restored.status_code == 200 and restored.json()["hidden"] is False
    org_row = await fetch(Organization, org.id)
    assert (org_row.rating_count, org_row.rating_avg) == (3, Decimal("3.33"))
    malformed = await client.get(f"/api/v1/organizations/{org.id}a/reviews", headers=auth_headers(reader))
    assert malformed.status_code == 422
    unknown = await client.get(f"/api/v1/organizations/{uuid.uuid4()}/reviews", headers=auth_headers(reader))
    assert unknown.status_code == 404


async def test_thirty_concurrent_ratings_aggregate_exactly(client: httpx.AsyncClient) -> None:
    org = await make_org()
    drivers = [await make_driver(org) for _ in range(3)]
    jobs = []
    for index in range(30):
        customer = await make_user()
        booking = await completed_booking(org, customer, drivers[index % 3], days_ago=index + 1)
        overall, driver_rating = index % 5 + 1, (index * 7) % 5 + 1
        jobs.append((customer, booking, overall, driver_rating))

    async def rate(customer: User, booking: Booking, overall: int, driver_rating: int) -> int:
        response = await client.post(
            f"/api/v1/bookings/{booking.id}/rating",
            json={"overall": overall, "driver_rating": driver_rating},
            headers=auth_headers(customer),
        )
        return response.status_code

    statuses = await asyncio.gather(*(rate(*job) for job in jobs))
    assert statuses == [201] * 30

    overall_values = [job[2] for job in jobs]
    org_row = await fetch(Organization, org.id)
    expected_avg = Decimal(sum(overall_values)) / 30
    assert org_row.rating_count == 30
    assert org_row.rating_avg == expected_avg.quantize(Decimal("0.01"))
    summary = (
        await client.get(f"/api/v1/organizations/{org.id}/rating-summary", headers=auth_headers(jobs[0][0]))
    ).json()
    counts = Counter(overall_values)
    assert summary["breakdown"] == {str(star): counts[star] for star in range(1, 6)}
    for position, driver in enumerate(drivers):
        given = [job[3] for index, job in enumerate(jobs) if index % 3 == position]
        expected = (Decimal(sum(given)) / len(given)).quantize(Decimal("0.01"))
        assert (await fetch(Driver, driver.id)).rating_avg == expected


async def test_a_booking_rating_is_seen_only_by_who_sees_the_booking(client: httpx.AsyncClient) -> None:
    """Regression: another org's admin, dispatcher and driver and another customer got the
    rating (with its org_id and driver_id) with 200; the ratings table's public-read policy let
    it through."""
    org, other_org = await make_org(), await make_org()
    driver_user = await make_user("driver", org)
    driver = await make_driver(org, user=driver_user)
    customer = await make_user()
    booking = await completed_booking(org, customer, driver)
    url = f"/api/v1/bookings/{booking.id}/rating"
    assert (
        await client.post(url, json={"overall": 5, "driver_rating": 5}, headers=auth_headers(customer))
    ).status_code == 201

    outsider_driver_user = await make_user("driver", other_org)
    outsider_driver = await make_driver(other_org, user=outsider_driver_user)
    outsiders = [
        auth_headers(await make_user("mover_admin", other_org)),
        auth_headers(await make_user("dispatcher", other_org)),
        auth_headers(outsider_driver_user, outsider_driver),
        auth_headers(await make_user()),
    ]
    for headers in outsiders:
        response = await client.get(url, headers=headers)
        assert response.status_code == 404, response.text
        assert "org_id" not in response.json() and "driver_id" not in response.json()

    insiders = [
        auth_headers(customer),
        auth_headers(driver_user, driver),
        auth_headers(await make_user("mover_admin", org)),
        auth_headers(await make_user("dispatcher", org)),
        auth_headers(await make_user("platform_admin")),
    ]
    for headers in insiders:
        response = await client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["driver_id"] == str(driver.id)
