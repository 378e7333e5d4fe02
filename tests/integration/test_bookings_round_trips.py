"""Round trips of the booking hot paths, counted on the engine (before_cursor_execute, and
the transaction's BEGIN and COMMIT): booking create sends at most three statements, a quote
one, a list (dispatcher, limit=20) two; the caller's settings ride along with the first."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import event, func, select

from persistence.models import Booking, BookingStatusHistory, OutboxEvent
from persistence.session import SYSTEM, engine, tenant_session
from tests.factories import auth_headers, make_org, make_user
from tests.integration.test_bookings import booking_body


class Trips:
    def __init__(self) -> None:
        self.statements: list[str] = []
        self.begins = 0
        self.commits = 0

    @property
    def wire(self) -> int:
        return len(self.statements) + self.begins + self.commits


@contextmanager
def counted() -> Iterator[Trips]:
    trips = Trips()
    target = engine().sync_engine

    def statement(conn: Any, cursor: Any, sql: str, *_: Any) -> None:
        trips.statements.append(sql)

    def begin(conn: Any) -> None:
        trips.begins += 1

    def commit(conn: Any) -> None:
        trips.commits += 1

    hooks = [("before_cursor_execute", statement), ("begin", begin), ("commit", commit)]
    for name, hook in hooks:
        event.listen(target, name, hook)
    try:
        yield trips
    finally:
        for name, hook in hooks:
            event.remove(target, name, hook)


async def test_booking_create_quote_and_list_round_trips(client: httpx.AsyncClient) -> None:
    org = await make_org()
    customer = await make_user("customer")
    headers = auth_headers(customer)
    body = booking_body(org.id)
    quote_body = {
        "org_id": str(org.id),
        "pickup": body["pickup"]["location"],
        "dropoff": body["dropoff"]["location"],
        "volume_m3": 20,
        "crew_size": 2,
    }
    # The first quote reads the org's terms into the Redis cache (one more statement).
    assert (await client.post("/api/v1/bookings/quote", headers=headers, json=quote_body)).status_code == 200

    with counted() as quote:
        answer = await client.post("/api/v1/bookings/quote", headers=headers, json=quote_body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["pickup_in_service_area"] is True

    with counted() as create:
        answer = await client.post("/api/v1/bookings", headers=headers, json=body)
    assert answer.status_code == 201, answer.text
    created = answer.json()
    assert created["version"] == 1 and created["status"] == "pending"
    assert created["created_at"] and created["distance_km"] == answer.json()["distance_km"]

    dispatcher = auth_headers(await make_user("dispatcher", org))
    # The dispatcher's first request reads its sign-in state into the cache (like the quote).
    assert (await client.get("/api/v1/bookings?limit=1", headers=dispatcher)).status_code == 200
    with counted() as listed:
        answer = await client.get("/api/v1/bookings?limit=20", headers=dispatcher)
    assert answer.status_code == 200, answer.text
    assert answer.json()["total"] == 1
    assert [b["id"] for b in answer.json()["items"]] == [created["id"]]

    print(
        f"\nquote {len(quote.statements)} statements ({quote.wire} round trips), create "
        f"{len(create.statements)} ({create.wire}), list {len(listed.statements)} "
        f"({listed.wire})"
    )
    assert len(create.statements) <= 3, create.statements
    assert "pre_ping" not in " ".join(create.statements) and not any(
        s.strip().upper() == "SELECT 1" for s in create.statements
    )
    assert create.wire <= 5, (create.statements, create.begins, create.commits)
    assert len(quote.statements) == 1, quote.statements
    assert len(listed.statements) == 2, listed.statements  # caller, then rows with the total

    # Everything the fewer statements had to write is there: row, history, outbox event.
    async with tenant_session(SYSTEM) as session:
        booking = await session.get(Booking, created["id"])
        history = (
            await session.scalars(
                select(BookingStatusHistory).where(BookingStatusHistory.booking_id == created["id"])
            )
        ).all()
        events = await session.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.idempotency_key == f"booking.created:{created['id']}")
        )
    assert booking is not None and booking.customer_id == customer.id
    assert [(h.to_status, h.reason, h.actor_user_id) for h in history] == [("pending", "booked", customer.id)]
    assert history[0].metadata_["price_cents"] == created["price_cents"]
    assert events == 1


async def test_a_page_past_the_end_still_tells_the_total(client: httpx.AsyncClient) -> None:
    org = await make_org()
    customer = await make_user("customer")
    for hour in (8, 9):
        answer = await client.post(
            "/api/v1/bookings", headers=auth_headers(customer), json=booking_body(org.id)
        )
        assert answer.status_code == 201, (hour, answer.text)
    staff = auth_headers(await make_user("dispatcher", org))
    page = (await client.get("/api/v1/bookings?limit=1&offset=1", headers=staff)).json()
    assert page["total"] == 2 and len(page["items"]) == 1
    past = (await client.get("/api/v1/bookings?limit=20&offset=5", headers=staff)).json()
    assert past["total"] == 2 and past["items"] == []
