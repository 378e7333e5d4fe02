"""Periodic job: mark issued invoices overdue once their due date has passed where the mover is."""

from __future__ import annotations

from datetime import datetime

from persistence.repositories.invoices import InvoiceRepository
from persistence.session import SYSTEM, tenant_session


async def mark_overdue_invoices(now: datetime) -> int:
    """Returns how many invoices became overdue at `now` (the clock is the caller's)."""
    async with tenant_session(SYSTEM) as session:
        return await InvoiceRepository(session).mark_overdue(now)
