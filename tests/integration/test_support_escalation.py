"""Ticket escalation on a controllable clock, and the dashboard medians (percentile_cont)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from dispatch.support import service
from dispatch.support.rules import SLA, Priority
from dispatch.support.scheduled import escalate_overdue
from dispatch.support.schemas import CommentCreate, ResolveRequest, TicketCreate
from dispatch.support.stats import ticket_stats
from persistence.models import OutboxEvent
from persistence.models.support import SupportTicket
from persistence.session import SYSTEM, Caller, tenant_session
from tests.factories import caller_for, make_user

# Clocks far from today and from each other, so other tests' tickets stay out of the way.
T0 = datetime(2032, 5, 3, 9, tzinfo=UTC)
STATS_T0 = datetime(2033, 7, 1, 9, tzinfo=UTC)
H = timedelta(hours=1)


async def _open(caller: Caller, issue_type: str, now: datetime) -> SupportTicket:
    async with tenant_session(caller) as session:
        created = await service.open_ticket(
            session,
            caller,
            TicketCreate(issue_type=issue_type, subject="Charged twice", description="Two card charges."),
            now=now,
        )
    return await _stored(created.id)


async def _stored(ticket_id: object) -> SupportTicket:
    async with tenant_session(SYSTEM) as session:
        ticket = await session.get(SupportTicket, ticket_id)
    assert ticket is not None
    return ticket


async def _escalation_keys(ticket: SupportTicket) -> list[str]:
    async with tenant_session(SYSTEM) as session:
        return list(
            await session.scalars(
                select(OutboxEvent.idempotency_key)
                .where(
                    OutboxEvent.aggregate_id == str(ticket.id),
                    OutboxEvent.idempotency_key.like("%:escalated:%"),
                )
                .order_by(OutboxEvent.id)
            )
        )


async def test_escalation_when_the_sla_passes() -> None:
    customer = caller_for(await make_user("customer"))
    admin_user = await make_user("platform_admin")
    admin = caller_for(admin_user)
    ticket = await _open(customer, "billing", T0)
    assert (ticket.priority, ticket.sla_due_at) == ("normal", T0 + SLA[Priority.NORMAL])
    calm = await _open(customer, "other", T0)  # low priority: a longer SLA
    settled = await _open(customer, "billing", T0)
    async with tenant_session(admin) as session:
        await service.resolve(
            session, admin, settled.id, ResolveRequest(resolution="Duplicate charge reversed."), now=T0 + H
        )

    await escalate_overdue(T0 + SLA[Priority.NORMAL] - timedelta(seconds=1))
    assert (await _stored(ticket.id)).escalated is False
    first_pass = T0 + SLA[Priority.NORMAL]
    await escalate_overdue(first_pass)
    escalated = await _stored(ticket.id)
    assert (escalated.priority, escalated.escalated, escalated.escalation_level) == ("high", True, 1)
    assert escalated.escalated_at == first_pass
    assert escalated.sla_due_at == first_pass + SLA[Priority.HIGH]
    # Unassigned: every platform admin hears of it, once per escalation level.
    keys = await _escalation_keys(ticket)
    assert f"notify.support_ticket_update:{ticket.id}:escalated:1:{admin_user.id}" in keys
    await escalate_overdue(first_pass + H)
    assert await _escalation_keys(ticket) == keys
    assert (await _stored(ticket.id)).escalation_level == 1
    assert (await _stored(calm.id)).escalated is False
    assert (await _stored(settled.id)).escalated is False  # resolved tickets never escalate

    agent = await make_user("platform_admin")
    async with tenant_session(admin) as session:
        await service.assign(session, admin, ticket.id, agent.id, now=first_pass + 2 * H)
    second_pass = first_pass + SLA[Priority.HIGH]
    await escalate_overdue(second_pass)
    urgent = await _stored(ticket.id)
    assert (urgent.priority, urgent.escalation_level) == ("urgent", 2)
    level_two = [k for k in await _escalation_keys(ticket) if ":escalated:2:" in k]
    assert level_two == [f"notify.support_ticket_update:{ticket.id}:escalated:2:{agent.id}"]
    await escalate_overdue(second_pass + SLA[Priority.URGENT])
    still_urgent = await _stored(ticket.id)
    assert (still_urgent.priority, still_urgent.escalation_level) == ("urgent", 3)


async def test_dashboard_medians_and_open_counts() -> None:
    customer = caller_for(await make_user("customer"))
    admin = caller_for(await make_user("platform_admin"))
    async with tenant_session(admin) as session:
        before = await ticket_stats(session)  # open counts are platform-wide: compare to these
    tickets = [await _open(customer, "billing", STATS_T0) for _ in range(3)]
    for ticket, response_h, resolution_h in zip(tickets, (1, 2, 6), (4, 10, None), strict=True):
        async with tenant_session(admin) as session:
            await service.add_comment(
                session,
                admin,
                ticket.id,
                CommentCreate(body="Looking into it", internal=True),
                now=STATS_T0 + H / 2,
            )  # internal: not a response
            await service.add_comment(
                session, admin, ticket.id, CommentCreate(body="We are on it."), now=STATS_T0 + response_h * H
            )
        if resolution_h is not None:
            async with tenant_session(admin) as session:
                await service.resolve(
                    session,
                    admin,
                    ticket.id,
                    ResolveRequest(resolution="Reversed."),
                    now=STATS_T0 + resolution_h * H,
                )
    async with tenant_session(admin) as session:
        stats = await ticket_stats(session, since=STATS_T0)
    assert stats.median_first_response_s == 2 * 3600
    assert stats.median_resolution_s == 7 * 3600  # percentile_cont interpolates 4 h and 10 h
    # Two resolved, one still open: the third billing ticket in 90 days, so raised to high.
    assert stats.open_total == before.open_total + 1
    assert stats.open_by_priority == {
        **before.open_by_priority,
        Priority.HIGH: before.open_by_priority[Priority.HIGH] + 1,
    }
    assert stats.escalated_open == before.escalated_open
    async with tenant_session(admin) as session:
        none_yet = await ticket_stats(session, since=STATS_T0 + timedelta(days=400))
    assert none_yet.median_first_response_s is None and none_yet.median_resolution_s is None
