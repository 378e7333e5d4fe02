"""Status history queries: a booking's audit trail of status changes."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from persistence.models import BookingStatusHistory
from persistence.repositories.base import Repository


class StatusHistoryRepository(Repository[BookingStatusHistory]):
    model = BookingStatusHistory

    async def trail_of(self, booking_id: uuid.UUID) -> list[BookingStatusHistory]:
        """Every status change of the booking, oldest first (the history the API shows)."""
        return list(
            await self.session.scalars(
                select(BookingStatusHistory)
                .where(BookingStatusHistory.booking_id == booking_id)
                .order_by(BookingStatusHistory.id)
            )
        )
