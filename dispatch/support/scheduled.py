"""Periodic job: escalate active tickets whose SLA has passed (raise the priority, mark
escalated, restart the SLA, notify the assignee or, if none, every platform admin)."""

from __future__ import annotations

from datetime import datetime

from dispatch.support import messaging, rules
from dispatch.support.rules import Priority
from persistence.repositories.support import SupportTicketRepository
from persistence.session import SYSTEM, tenant_session

BATCH = 200


async def escalate_overdue(now: datetime) -> int:
    """One pass; returns how many tickets escalated. Rows another pass holds are skipped."""
    async with tenant_session(SYSTEM) as session:
        tickets = await SupportTicketRepository(session).overdue_for_escalation(
            [s.value for s in rules.ACTIVE_STATUSES], now, BATCH
        )
        admins = await messaging.platform_admins(session) if tickets else []
        for ticket in tickets:
            escalation = rules.escalate(Priority(ticket.priority), ticket.escalation_level, now)
            ticket.priority, ticket.sla_due_at = escalation.priority.value, escalation.sla_due_at
            ticket.escalation_level, ticket.escalated = escalation.level, True
            ticket.escalated_at, ticket.updated_at = now, now
            await messaging.notify(
                session,
                ticket,
                messaging.support_side(ticket) or admins,
                "escalated",
                event=f"escalated:{escalation.level}",
                message=f"The SLA passed; priority is now {escalation.priority.value}.",
            )
        return len(tickets)
