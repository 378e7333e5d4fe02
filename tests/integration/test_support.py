"""Support tickets through the API: automatic priority, who sees which ticket (RLS, 404 to
everyone else), internal notes hidden from customers, the resolution workflow with a refund
through the refund system, and bad input that writes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import func, select

from persistence.models import Booking, Organization, OutboxEvent, Payment, Refund, User
from persistence.models.support import SupportComment, SupportTicket
from persistence.session import SYSTEM, tenant_session
from tests.factories import auth_headers, caller_for, make_booking, make_org, make_user

API = "/api/v1/support"


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


async def open_ticket(
    client: httpx.AsyncClient,
    user: User,
    issue_type: str = "damage",
    booking: Booking | None = None,
    **fields: Any,
) -> dict[str, Any]:
    body = {
        "issue_type": issue_type,
        "subject": "Scratched wardrobe",
        "description": "The left door was scratched on unloading.",
        **fields,
    }
    if booking is not None:
        body["booking_id"] = str(booking.id)
    response = await client.post(f"{API}/tickets", json=body, headers=auth_headers(user))
    assert response.status_code == 201, response.text
    ticket: dict[str, Any] = response.json()
    return ticket


async def ticket_count(**where: Any) -> int:
    async with tenant_session(SYSTEM) as session:
        statement = select(func.count()).select_from(SupportTicket)
        for column, value in where.items():
            statement = statement.where(getattr(SupportTicket, column) == value)
        return int(await session.scalar(statement) or 0)


async def test_priority_from_type_value_and_repeat_issues(client: httpx.AsyncClient) -> None:
    org = await make_org()
    customer = await make_user("customer")
    cheap = await make_booking(org, customer, price_cents=30_000)
    pricey = await make_booking(org, customer, price_cents=250_000)

    damage = await open_ticket(client, customer, "damage", cheap)
    assert (damage["priority"], damage["org_id"]) == ("high", str(org.id))
    assert damage["reference"].startswith("SUP-") and damage["status"] == "open"
    late = await open_ticket(client, customer, "late_arrival", pricey)
    assert late["priority"] == "high"
    assert any("booking worth" in reason for reason in late["priority_reasons"])
    # Third ticket in 90 days: the repeat raises "other" from low to normal.
    other = await open_ticket(client, customer, "other")
    assert other["priority"] == "normal" and other["org_id"] is None
    fresh = await open_ticket(client, await make_user("customer"), "other")
    assert fresh["priority"] == "low"


async def test_who_sees_which_ticket(client: httpx.AsyncClient) -> None:
    org_a, org_b = await make_org(), await make_org()
    customer, stranger = await make_user("customer"), await make_user("customer")
    staff_a, staff_b = await make_user("dispatcher", org_a), await make_user("mover_admin", org_b)
    booking = await make_booking(org_a, customer)
    about_booking = await open_ticket(client, customer, "no_show", booking)
    account_question = await open_ticket(client, customer, "billing")  # no booking, no org
    mover_ticket = await open_ticket(client, staff_a, "billing", subject="Payout missing")
    assert mover_ticket["org_id"] == str(org_a.id) and mover_ticket["customer_id"] is None

    def url(ticket: dict[str, Any]) -> str:
        return f"{API}/tickets/{ticket['id']}"

    seen_by = {
        "customer": (customer, {about_booking["id"], account_question["id"]}),
        "staff_a": (staff_a, {about_booking["id"], mover_ticket["id"]}),
    }
    for who, (user, expected) in seen_by.items():
        listed = await client.get(f"{API}/tickets", params={"limit": 200}, headers=auth_headers(user))
        assert {t["id"] for t in listed.json()["items"]} == expected, who
    for outsider in (stranger, staff_b, await make_user("driver", org_a)):
        for ticket in (about_booking, account_question, mover_ticket):
            problem(await client.get(url(ticket), headers=auth_headers(outsider)), 404)
            problem(
                await client.post(
                    f"{url(ticket)}/comments", json={"body": "hi"}, headers=auth_headers(outsider)
                ),
                404,
            )
    # Staff of the booking's org see the customer's ticket but never the org-less one.
    problem(await client.get(url(account_question), headers=auth_headers(staff_a)), 404)
    assert (await client.get(url(about_booking), headers=auth_headers(staff_a))).status_code == 200
    admin = await make_user("platform_admin")
    for ticket in (about_booking, account_question, mover_ticket):
        assert (await client.get(url(ticket), headers=auth_headers(admin))).status_code == 200
    # A customer cannot tie a ticket to somebody else's booking, nor staff to another org's.
    problem(
        await client.post(
            f"{API}/tickets",
            json={
                "issue_type": "damage",
                "subject": "Not mine",
                "description": "x",
                "booking_id": str(booking.id),
            },
            headers=auth_headers(stranger),
        ),
        404,
    )
    problem(
        await client.post(
            f"{API}/tickets",
            json={
                "issue_type": "damage",
                "subject": "Not ours",
                "description": "x",
                "booking_id": str(booking.id),
            },
            headers=auth_headers(staff_b),
        ),
        404,
    )
    assert await ticket_count(opened_by=stranger.id) == 0
    assert await ticket_count(opened_by=staff_b.id) == 0


async def test_internal_notes_are_hidden_from_customers(client: httpx.AsyncClient) -> None:
    org = await make_org()
    customer = await make_user("customer")
    staff = await make_user("mover_admin", org)
    admin = await make_user("platform_admin")
    ticket = await open_ticket(client, customer, "damage", await make_booking(org, customer))
    url = f"{API}/tickets/{ticket['id']}"

    note = await client.post(
        f"{url}/comments",
        json={"body": "Crew lead admits the door hit the stairwell.", "internal": True},
        headers=auth_headers(admin),
    )
    assert note.status_code == 201, note.text
    reply = await client.post(
        f"{url}/comments", json={"body": "Sorry! Could you send a photo?"}, headers=auth_headers(admin)
    )
    assert reply.status_code == 201
    staff_note = await client.post(
        f"{url}/comments", json={"body": "We will cover it.", "internal": True}, headers=auth_headers(staff)
    )
    assert staff_note.status_code == 201
    problem(
        await client.post(
            f"{url}/comments", json={"body": "psst", "internal": True}, headers=auth_headers(customer)
        ),
        403,
    )

    as_customer = (await client.get(url, headers=auth_headers(customer))).json()
    assert [c["body"] for c in as_customer["comments"]] == ["Sorry! Could you send a photo?"]
    assert as_customer["first_response_at"] is not None
    as_staff = (await client.get(url, headers=auth_headers(staff))).json()
    assert len(as_staff["comments"]) == 3
    # The database itself refuses them to the customer, whatever the query.
    async with tenant_session(caller_for(customer)) as session:
        bodies = list(await session.scalars(select(SupportComment.body)))
    assert bodies == ["Sorry! Could you send a photo?"]
    async with tenant_session(SYSTEM) as session:
        updates = list(
            await session.scalars(
                select(OutboxEvent.payload).where(
                    OutboxEvent.topic == "notify.support_ticket_update",
                    OutboxEvent.aggregate_id == ticket["id"],
                )
            )
        )
    messages = [u["context"]["message"] for u in updates if u["user_id"] == str(customer.id)]
    assert "Sorry! Could you send a photo?" in messages
    assert not any("stairwell" in m or "cover it" in m for m in messages)


async def _paid(org: Organization, customer: User, amount: int) -> Booking:
    booking = await make_booking(org, customer, price_cents=amount)
    async with tenant_session(SYSTEM) as session:
        session.add(
            Payment(
                org_id=org.id,
                booking_id=booking.id,
                customer_id=customer.id,
                amount_cents=amount,
                currency="EUR",
                provider="local",
                provider_payment_id=f"pi_{uuid.uuid4().hex}",
                status="succeeded",
            )
        )
    return booking


async def test_assign_resolve_with_refund_close_and_reopen(client: httpx.AsyncClient) -> None:
    org = await make_org()
    customer = await make_user("customer")
    admin, agent = await make_user("platform_admin"), await make_user("platform_admin")
    booking = await _paid(org, customer, 40_000)
    ticket = await open_ticket(client, customer, "damage", booking)
    url = f"{API}/tickets/{ticket['id']}"
    headers = auth_headers(admin)

    problem(await client.post(f"{url}/assign", json={"assignee_id": str(customer.id)}, headers=headers), 422)
    problem(
        await client.post(
            f"{url}/assign", json={"assignee_id": str(agent.id)}, headers=auth_headers(customer)
        ),
        403,
    )
    assigned = await client.post(f"{url}/assign", json={"assignee_id": str(agent.id)}, headers=headers)
    assert assigned.status_code == 200, assigned.text
    assert (assigned.json()["status"], assigned.json()["assignee_id"]) == ("in_progress", str(agent.id))

    too_much = problem(
        await client.post(
            f"{url}/resolve",
            json={"resolution": "Refund everything twice", "refund_cents": 80_000},
            headers=headers,
        ),
        409,
    )
    assert too_much["refundable_cents"] == 40_000
    unchanged = (await client.get(url, headers=headers)).json()
    assert unchanged["status"] == "in_progress" and unchanged["refund_id"] is None
    problem(
        await client.post(
            f"{url}/resolve", json={"resolution": "Refund", "refund_cents": 0}, headers=headers
        ),
        422,
    )

    resolved = await client.post(
        f"{url}/resolve",
        json={
            "resolution": "Refunded the door repair.",
            "refund_cents": 8_500,
            "refund_note": "wardrobe door",
        },
        headers=headers,
    )
    assert resolved.status_code == 200, resolved.text
    body = resolved.json()
    assert body["status"] == "resolved" and body["resolved_at"] is not None
    async with tenant_session(SYSTEM) as session:
        refund = await session.get(Refund, uuid.UUID(body["refund_id"]))
    assert refund is not None
    assert (refund.amount_cents, refund.reason_code, refund.booking_id) == (
        8_500,
        "support_resolution",
        booking.id,
    )

    problem(await client.post(f"{url}/resolve", json={"resolution": "again"}, headers=headers), 409)
    problem(
        await client.post(f"{url}/close", headers=auth_headers(await make_user("mover_admin", org))), 403
    )  # the mover is not the opener
    closed = await client.post(f"{url}/close", headers=auth_headers(customer))
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    problem(
        await client.post(f"{url}/comments", json={"body": "hello?"}, headers=auth_headers(customer)), 409
    )
    problem(await client.post(f"{url}/reopen", json={"reason": ""}, headers=auth_headers(customer)), 422)
    reopened = await client.post(
        f"{url}/reopen", json={"reason": "The refund never arrived."}, headers=auth_headers(customer)
    )
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["status"] == "open" and reopened.json()["resolved_at"] is None
    detail = (await client.get(url, headers=auth_headers(customer))).json()
    assert detail["comments"][-1]["body"] == "Reopened: The refund never arrived."
    refund_only_with_booking = await open_ticket(client, customer, "billing")
    problem(
        await client.post(
            f"{API}/tickets/{refund_only_with_booking['id']}/resolve",
            json={"resolution": "Refund", "refund_cents": 100},
            headers=headers,
        ),
        422,
    )


async def test_bad_input_is_a_problem_and_writes_nothing(client: httpx.AsyncClient) -> None:
    customer = await make_user("customer")
    headers = auth_headers(customer)
    bad_bodies: list[dict[str, Any]] = [
        {"issue_type": "alien_abduction", "subject": "Help", "description": "x"},
        {"issue_type": "damage", "subject": "", "description": "x"},
        {"issue_type": "damage", "subject": "Help", "description": ""},
        {"issue_type": "damage", "subject": "Help", "description": "x", "priority": "urgent"},
        {"issue_type": "damage", "subject": "Help", "description": "x", "booking_id": "42"},
        {"issue_type": "damage", "subject": "x" * 201, "description": "x"},
    ]
    for body in bad_bodies:
        problem(await client.post(f"{API}/tickets", json=body, headers=headers), 422)
    problem(
        await client.post(
            f"{API}/tickets",
            json={
                "issue_type": "damage",
                "subject": "Help",
                "description": "x",
                "booking_id": str(uuid.uuid4()),
            },
            headers=headers,
        ),
        404,
    )
    problem(
        await client.post(
            f"{API}/tickets",
            json={"issue_type": "damage", "subject": "Help", "description": "x"},
            headers=auth_headers(await make_user("driver", await make_org())),
        ),
        403,
    )
    problem(await client.get(f"{API}/stats", headers=headers), 403)
    problem(
        await client.get(
            f"{API}/stats",
            params={"since": "2026-11-01T00:00:00"},
            headers=auth_headers(await make_user("platform_admin")),
        ),
        422,
    )
    assert await ticket_count(opened_by=customer.id) == 0
