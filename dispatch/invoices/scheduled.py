"""Periodic job: mark issued invoices overdue once their due date has passed where the mover is."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text

from persistence.session import SYSTEM, tenant_session

# The due date is a calendar day of the organization: overdue from the next local day on
# (an unknown zone name counts as UTC rather than failing the whole batch).
_MARK_OVERDUE = text("""
UPDATE invoices AS i SET status = 'overdue', overdue_at = :now, updated_at = :now,
  version = i.version + 1
FROM organizations AS o
WHERE o.id = i.org_id AND i.status = 'issued' AND i.due_date IS NOT NULL
  AND i.due_date < (:now AT TIME ZONE (CASE WHEN EXISTS (
        SELECT 1 FROM pg_timezone_names z WHERE z.name = o.timezone) THEN o.timezone
      ELSE 'UTC' END))::date
""")


async def mark_overdue_invoices(now: datetime) -> int:
    """Returns how many invoices became overdue at `now` (the clock is the caller's)."""
    async with tenant_session(SYSTEM) as session:
        result = await session.execute(_MARK_OVERDUE, {"now": now})
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
