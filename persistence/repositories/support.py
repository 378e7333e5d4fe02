"""Support ticket queries: one ticket (locked for a change), its comments, filtered lists, the
overdue ones the escalation job takes, who hears about them, and the dashboard figures."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, extract, func, select

from persistence.models.support import SupportComment, SupportTicket
from persistence.models.users import User
from persistence.repositories.base import Repository


def _median_seconds(end: Any) -> Any:
    """Median of end - created_at in seconds; tickets where `end` is NULL do not count."""
    return func.percentile_cont(0.5).within_group(extract("epoch", end - SupportTicket.created_at))


class SupportTicketRepository(Repository[SupportTicket]):
    model = SupportTicket

    async def find(self, ticket_id: uuid.UUID, *, lock: bool = False) -> SupportTicket | None:
        """A ticket the caller can see; locked and read afresh when the caller will change it,
        so concurrent changes of one ticket serialize and each sees the last one's result."""
        statement = select(SupportTicket).where(SupportTicket.id == ticket_id)
        if lock:
            statement = statement.with_for_update().execution_options(populate_existing=True)
        ticket: SupportTicket | None = await self.session.scalar(statement)
        return ticket

    async def opened_by_customer_since(self, customer_id: uuid.UUID, since: datetime) -> int:
        """How many tickets the customer opened since then (repeat contacts raise priority)."""
        return int(
            await self.session.scalar(
                select(func.count())
                .select_from(SupportTicket)
                .where(SupportTicket.customer_id == customer_id, SupportTicket.created_at >= since)
            )
            or 0
        )

    async def comments(self, ticket_id: uuid.UUID) -> list[SupportComment]:
        """The ticket's comments the caller may read (RLS hides internal notes from customers),
        oldest first."""
        rows = await self.session.scalars(
            select(SupportComment)
            .where(SupportComment.ticket_id == ticket_id)
            .order_by(SupportComment.created_at, SupportComment.id)
        )
        return list(rows)

    def listing(
        self,
        *,
        status: str | None = None,
        priority: str | None = None,
        issue_type: str | None = None,
        assignee_id: uuid.UUID | None = None,
    ) -> Select[Any]:
        """Tickets the caller can see, nearest SLA deadline first, narrowed by the filters."""
        statement = select(SupportTicket).order_by(SupportTicket.sla_due_at, SupportTicket.id)
        if status is not None:
            statement = statement.where(SupportTicket.status == status)
        if priority is not None:
            statement = statement.where(SupportTicket.priority == priority)
        if issue_type is not None:
            statement = statement.where(SupportTicket.issue_type == issue_type)
        if assignee_id is not None:
            statement = statement.where(SupportTicket.assignee_id == assignee_id)
        return statement

    async def overdue_for_escalation(
        self, active_statuses: Sequence[str], now: datetime, limit: int
    ) -> list[SupportTicket]:
        """Active tickets past their SLA, most overdue first, locked; rows another escalation
        pass holds are skipped rather than waited for."""
        rows = await self.session.scalars(
            select(SupportTicket)
            .where(SupportTicket.status.in_(list(active_statuses)), SupportTicket.sla_due_at <= now)
            .order_by(SupportTicket.sla_due_at, SupportTicket.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(rows)

    async def platform_admins(self) -> list[uuid.UUID]:
        """Every active platform admin: who hears about an unassigned ticket's escalation."""
        return list(
            await self.session.scalars(
                select(User.id).where(User.role == "platform_admin", User.active).order_by(User.id)
            )
        )

    async def open_by_priority(
        self, active_statuses: Sequence[str], org_id: uuid.UUID | None = None
    ) -> list[Row[str, int, int]]:
        """(priority, open tickets, of which escalated) for the dashboard, as of now; of one
        organization's tickets when `org_id` is given (all the caller sees otherwise)."""
        statement = (
            select(SupportTicket.priority, func.count(), func.count().filter(SupportTicket.escalated))
            .where(SupportTicket.status.in_(list(active_statuses)))
            .group_by(SupportTicket.priority)
        )
        if org_id is not None:
            statement = statement.where(SupportTicket.org_id == org_id)
        rows = await self.session.execute(statement)
        return list(rows.all())

    async def median_response_times(
        self, since: datetime | None, org_id: uuid.UUID | None = None
    ) -> tuple[float | None, float | None]:
        """Median seconds to first response and to resolution of tickets opened since then
        (all tickets if None), of one organization when `org_id` is given, computed by
        PostgreSQL."""
        medians = select(
            _median_seconds(SupportTicket.first_response_at), _median_seconds(SupportTicket.resolved_at)
        )
        if since is not None:
            medians = medians.where(SupportTicket.created_at >= since)
        if org_id is not None:
            medians = medians.where(SupportTicket.org_id == org_id)
        first_response, resolution = (await self.session.execute(medians)).one()
        return (
            None if first_response is None else float(first_response),
            None if resolution is None else float(resolution),
        )
