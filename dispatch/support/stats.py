"""Support dashboard figures, computed by PostgreSQL: open tickets by priority, and median
first-response and resolution times (percentile_cont over seconds). Platform admins see the
whole platform or one organization; a mover admin sees their own organization's."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.errors import NotFound
from dispatch.support.rules import ACTIVE_STATUSES, LEVELS, Priority
from dispatch.support.schemas import TicketStats
from persistence.repositories.support import SupportTicketRepository
from persistence.session import Caller


def scope_of(caller: Caller, org_id: uuid.UUID | None) -> uuid.UUID | None:
    """Whose tickets the caller's figures are about: admins choose (None = the platform), a
    mover admin always gets their organization (another organization's id: 404)."""
    if caller.is_admin:
        return org_id
    if caller.org_id is None or (org_id is not None and org_id != caller.org_id):
        raise NotFound("no such organization", field="org_id")
    return caller.org_id


async def ticket_stats(
    session: AsyncSession, since: datetime | None = None, org_id: uuid.UUID | None = None
) -> TicketStats:
    """Open counts are of now; medians are over tickets opened since `since` (all if None);
    of one organization's tickets when `org_id` is given."""
    tickets = SupportTicketRepository(session)
    open_rows = await tickets.open_by_priority([s.value for s in ACTIVE_STATUSES], org_id)
    first_response, resolution = await tickets.median_response_times(since, org_id)
    by_priority = dict.fromkeys(LEVELS, 0)
    for priority, count, _ in open_rows:
        by_priority[Priority(priority)] = int(count)
    return TicketStats(
        open_by_priority=by_priority,
        open_total=sum(by_priority.values()),
        escalated_open=sum(int(escalated) for _, _, escalated in open_rows),
        median_first_response_s=first_response,
        median_resolution_s=resolution,
        since=since,
        org_id=org_id,
    )
