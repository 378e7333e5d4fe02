"""Staff set a ticket's priority by hand (kept in its history, the SLA follows, other tenants'
tickets 404, bad values 422), and mover admins see their own organization's support stats."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select

from persistence.models.support import SupportComment, SupportTicket
from persistence.session import SYSTEM, tenant_session
from tests.factories import auth_headers, make_booking, make_org, make_user
from tests.integration.test_support import API, open_ticket, problem


async def stored(ticket_id: str) -> tuple[SupportTicket, list[SupportComment]]:
    async with tenant_session(SYSTEM) as session:
        ticket = await session.get(SupportTicket, uuid.UUID(ticket_id))
        comments = list(
            await session.scalars(
                select(SupportComment).where(SupportComment.ticket_id == uuid.UUID(ticket_id))
            )
        )
    assert ticket is not None
    return ticket, comments


async def test_staff_set_priority_with_history_and_sla(client: httpx.AsyncClient) -> None:
    org = await make_org()
    customer = await make_user("customer")
    booking = await make_booking(org, customer, price_cents=30_000)
    ticket = await open_ticket(client, customer, "late_arrival", booking)
    assert ticket["priority"] == "normal"
    url = f"{API}/tickets/{ticket['id']}/priority"
    dispatcher = await make_user("dispatcher", org)
    before, _ = await stored(ticket["id"])

    raised = await client.post(
        url, json={"priority": "urgent", "reason": "Crew still missing"}, headers=auth_headers(dispatcher)
    )
    assert raised.status_code == 200, raised.text
    assert raised.json()["priority"] == "urgent"
    assert raised.json()["priority_reasons"][-1] == (
        "set from normal to urgent by dispatcher: Crew still missing"
    )
    row, comments = await stored(ticket["id"])
    assert row.priority == "urgent"
    # The running SLA period (72 h for normal) is measured with urgent's 4 h instead.
    assert row.sla_due_at == before.sla_due_at - timedelta(hours=72) + timedelta(hours=4)
    notes = [(c.body, c.internal, c.author_id) for c in comments]
    assert notes == [
        ("Priority set from normal to urgent by dispatcher: Crew still missing", True, dispatcher.id)
    ]
    customer_view = await client.get(f"{API}/tickets/{ticket['id']}", headers=auth_headers(customer))
    assert customer_view.json()["comments"] == []  # the note is internal

    admin = await make_user("platform_admin")
    lowered = await client.post(
        url, json={"priority": "low", "reason": "Crew arrived"}, headers=auth_headers(admin)
    )
    assert lowered.status_code == 200 and lowered.json()["priority"] == "low"
    same = await client.post(url, json={"priority": "low", "reason": "again"}, headers=auth_headers(admin))
    assert same.status_code == 200
    row, comments = await stored(ticket["id"])
    assert len(comments) == 2 and row.priority == "low"
    assert row.sla_due_at == before.sla_due_at - timedelta(hours=72) + timedelta(hours=120)


async def test_who_may_set_priority_and_what(client: httpx.AsyncClient) -> None:
    org, other_org = await make_org(), await make_org()
    customer = await make_user("customer")
    booking = await make_booking(org, customer)
    ticket = await open_ticket(client, customer, "damage", booking)
    url = f"{API}/tickets/{ticket['id']}/priority"
    body = {"priority": "urgent", "reason": "Piano broken"}

    for outsider in (
        await make_user("mover_admin", other_org),
        await make_user("dispatcher", other_org),
        await make_user("customer"),
    ):
        problem(await client.post(url, json=body, headers=auth_headers(outsider)), 404)
    problem(await client.post(url, json=body, headers=auth_headers(customer)), 403)
    admin = auth_headers(await make_user("mover_admin", org))
    for bad in (
        {"priority": "critical", "reason": "why not"},
        {"priority": "urgent"},
        {"priority": "urgent", "reason": "x"},
        {"priority": "urgent", "reason": "ok!", "extra": 1},
        {},
    ):
        problem(await client.post(url, json=bad, headers=admin), 422)
    problem(await client.post(f"{API}/tickets/{uuid.uuid4()}/priority", json=body, headers=admin), 404)
    row, comments = await stored(ticket["id"])
    assert (row.priority, comments) == ("high", [])

    closed = await client.post(f"{API}/tickets/{ticket['id']}/close", headers=auth_headers(customer))
    assert closed.status_code == 200, closed.text
    problem(await client.post(url, json=body, headers=admin), 409)
    row, comments = await stored(ticket["id"])
    assert (row.priority, comments) == ("high", [])


async def test_mover_admins_see_their_organizations_support_stats(client: httpx.AsyncClient) -> None:
    org, other_org = await make_org(), await make_org()
    customer = await make_user("customer")
    mine = [
        await open_ticket(client, customer, kind, await make_booking(org, customer))
        for kind in ("damage", "late_arrival", "other")
    ]
    await open_ticket(client, customer, "damage", await make_booking(other_org, customer))
    admin = auth_headers(await make_user("mover_admin", org))
    responder = await make_user("platform_admin")
    reply = await client.post(
        f"{API}/tickets/{mine[0]['id']}/comments", json={"body": "On it"}, headers=auth_headers(responder)
    )
    assert reply.status_code == 201

    stats = await client.get(f"{API}/stats", headers=admin)
    assert stats.status_code == 200, stats.text
    body = stats.json()
    assert body["org_id"] == str(org.id)
    # Priorities: damage high; late arrival normal; other raised to normal (repeat customer).
    assert body["open_by_priority"] == {"low": 0, "normal": 2, "high": 1, "urgent": 0}
    assert body["open_total"] == 3 and body["median_first_response_s"] is not None
    same = (await client.get(f"{API}/stats", params={"org_id": str(org.id)}, headers=admin)).json()
    assert same["open_total"] == 3
    problem(await client.get(f"{API}/stats", params={"org_id": str(other_org.id)}, headers=admin), 404)
    problem(await client.get(f"{API}/stats", headers=auth_headers(await make_user("dispatcher", org))), 403)

    platform = auth_headers(await make_user("platform_admin"))
    one_org = (
        await client.get(f"{API}/stats", params={"org_id": str(other_org.id)}, headers=platform)
    ).json()
    assert (one_org["org_id"], one_org["open_total"]) == (str(other_org.id), 1)
    since = (
        await client.get(
            f"{API}/stats",
            params={
                "org_id": str(org.id),
                "since": (datetime.now().astimezone() + timedelta(days=1)).isoformat(),
            },
            headers=platform,
        )
    ).json()
    assert since["median_first_response_s"] is None and since["open_total"] == 3
