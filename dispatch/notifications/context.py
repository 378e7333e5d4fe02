"""Template context built from the database: a booking as its messages show it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.notifications.rendering import when
from persistence.repositories.notifications import NotificationRepository


def _local(moment: datetime, timezone: str) -> datetime:
    try:
        return moment.astimezone(ZoneInfo(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        return moment


def booking_reference(booking_id: uuid.UUID) -> str:
    """The short code customers see and quote on the phone."""
    return booking_id.hex[:8].upper()


async def booking_context(session: AsyncSession, booking_id: uuid.UUID) -> dict[str, Any] | None:
    """booking, org_name and customer_name for a booking's messages; None when it is gone."""
    row = await NotificationRepository(session).booking_for_messages(booking_id)
    if row is None:
        return None
    booking, org_name, timezone, customer_name = row
    return {
        "booking": {
            "id": str(booking.id),
            "reference": booking_reference(booking.id),
            "pickup_address": booking.pickup_address,
            "dropoff_address": booking.dropoff_address,
            "window_start": when(_local(booking.window_start, timezone)),
            "window_end": when(_local(booking.window_end, timezone)),
            "price_cents": int(booking.price_cents),
            "currency": booking.currency,
            "status": booking.status,
            "status_label": booking.status.replace("_", " "),
        },
        "org_name": org_name,
        "customer_name": customer_name or "there",
    }
