"""`notify.support_ticket_update` events: who hears about a ticket change, in its transaction."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from persistence.models.support import SupportTicket
from persistence.outbox import enqueue
from persistence.repositories.support import SupportTicketRepository

TOPIC = "notify.support_ticket_update"


async def notify(
    session: AsyncSession,
    ticket: SupportTicket,
    recipients: Iterable[uuid.UUID],
    status: str,
    *,
    event: str,
    message: str = "",
) -> None:
    """One event per recipient, keyed by ticket, event and recipient, so a retried
    transaction or job never sends the same update twice."""
    for user_id in dict.fromkeys(recipients):  # de-duplicated, order kept
        await enqueue(
            session,
            TOPIC,
            {
                "user_id": str(user_id),
                "context": {
                    "ticket_reference": ticket.reference,
                    "ticket_subject": ticket.subject,
                    "status": status,
                    "message": message,
                    "ticket_id": str(ticket.id),
                },
            },
            idempotency_key=f"{TOPIC}:{ticket.id}:{event}:{user_id}",
            org_id=ticket.org_id,
            aggregate_id=str(ticket.id),
        )


async def platform_admins(session: AsyncSession) -> list[uuid.UUID]:
    """Who hears about an unassigned ticket's escalation: every active platform admin."""
    return await SupportTicketRepository(session).platform_admins()


def support_side(ticket: SupportTicket) -> list[uuid.UUID]:
    """Who answers the opener: the assignee (an unassigned ticket waits in the admins' list)."""
    return [ticket.assignee_id] if ticket.assignee_id else []
