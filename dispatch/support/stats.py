"""Support dashboard figures for platform admins, computed by PostgreSQL: open tickets by
priority, and median first-response and resolution times (percentile_cont over seconds)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.support.rules import ACTIVE_STATUSES, LEVELS, Priority
from dispatch.support.schemas import TicketStats
from persistence.repositories.support import SupportTicketRepository


async def ticket_stats(session: AsyncSession, since: datetime | None = None) -> TicketStats:
    """Open counts are of now; medians are over tickets opened since `since` (all if None)."""
    tickets = SupportTicketRepository(session)
    open_rows = await tickets.open_by_priority([s.value for s in ACTIVE_STATUSES])
    first_response, resolution = await tickets.median_response_times(since)
    by_priority = dict.fromkeys(LEVELS, 0)
    for priority, count, _ in open_rows:
        by_priority[Priority(priority)] = int(count)
    return TicketStats(
        open_by_priority=by_priority, open_total=sum(by_priority.values()),
        escalated_open=sum(int(escalated) for _, _, escalated in open_rows),
        median_first_response_s=first_response, median_resolution_s=resolution,
        since=since)
