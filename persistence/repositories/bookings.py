"""Booking queries: the caller's visible bookings, filtered by status and window."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select

from persistence.models import Booking
from persistence.repositories.base import Repository


class BookingRepository(Repository[Booking]):
    model = Booking

    def visible(self, *, statuses: Sequence[str] = (), org_id: uuid.UUID | None = None,
                customer_id: uuid.UUID | None = None, window_from: datetime | None = None,
                window_to: datetime | None = None) -> Select[Any]:
        """Bookings the caller may see (RLS decides whose), overlapping [window_from, window_to)."""
        statement = select(Booking)
        if statuses:
            statement = statement.where(Booking.status.in_(list(statuses)))
        if org_id is not None:
            statement = statement.where(Booking.org_id == org_id)
        if customer_id is not None:
            statement = statement.where(Booking.customer_id == customer_id)
        if window_from is not None:
            statement = statement.where(Booking.window_end > window_from)
        if window_to is not None:
            statement = statement.where(Booking.window_start < window_to)
        return statement
