"""Support dashboard figures for platform admins, computed by PostgreSQL: open tickets by
priority, and median first-response and resolution times (percentile_cont over seconds)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import extract, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.support.rules import ACTIVE_STATUSES, LEVELS, Priority
from dispatch.support.schemas import TicketStats
from persistence.models.support import SupportTicket


def _median_seconds(end: Any) -> Any:
    """Median of end - created_at in seconds; tickets where `end` is NULL do not count."""
    return func.percentile_cont(0.5).within_group(
        extract("epoch", end - SupportTicket.created_at))


async def ticket_stats(session: AsyncSession, since: datetime | None = None) -> TicketStats:
    """Open counts are of now; medians are over tickets opened since `since` (all if None)."""
    open_rows = (await session.execute(
        select(SupportTicket.priority, func.count(),
               func.count().filter(SupportTicket.escalated))
        .where(SupportTicket.status.in_([s.value for s in ACTIVE_STATUSES]))
        .group_by(SupportTicket.priority))).all()
    medians = select(_median_seconds(SupportTicket.first_response_at),
                     _median_seconds(SupportTicket.resolved_at))
    if since is not None:
        medians = medians.where(SupportTicket.created_at >= since)
    first_response, resolution = (await session.execute(medians)).one()
    by_priority = dict.fromkeys(LEVELS, 0)
    for priority, count, _ in open_rows:
        by_priority[Priority(priority)] = int(count)
    return TicketStats(
        open_by_priority=by_priority, open_total=sum(by_priority.values()),
        escalated_open=sum(int(escalated) for _, _, escalated in open_rows),
        median_first_response_s=None if first_response is None else float(first_response),
        median_resolution_s=None if resolution is None else float(resolution),
        since=since)
