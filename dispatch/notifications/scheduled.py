"""Periodic job: enqueue the 24-hour booking reminder, once per booking and start time."""

from __future__ import annotations

from datetime import datetime, timedelta

from persistence.config import Settings
from persistence.models import Booking
from persistence.outbox import enqueue
from persistence.repositories.notifications import NotificationRepository
from persistence.session import SYSTEM, tenant_session
from persistence.statuses import BookingStatus

REMINDED_STATUSES = (BookingStatus.CONFIRMED, BookingStatus.ASSIGNED)


def reminder_key(booking: Booking) -> str:
    """Keyed by start time too: a rescheduled booking earns a fresh reminder."""
    return f"notify.booking_reminder:{booking.id}:{booking.window_start.isoformat()}"


async def enqueue_booking_reminders(now: datetime, settings: Settings) -> int:
    """Bookings starting within the lead time and not reminded yet; returns how many now."""
    lead = timedelta(hours=settings.booking_reminder_lead_h)
    async with tenant_session(SYSTEM) as session:
        notifications = NotificationRepository(session)
        bookings = await notifications.bookings_starting(now, now + lead, REMINDED_STATUSES)
        keys = {reminder_key(booking): booking for booking in bookings}
        if not keys:
            return 0
        reminded = await notifications.enqueued_keys(keys)
        due = [(key, booking) for key, booking in keys.items() if key not in reminded]
        for key, booking in due:
            await enqueue(
                session,
                "notify.booking_reminder",
                {"user_id": str(booking.customer_id), "context": {"booking_id": str(booking.id)}},
                idempotency_key=key,
                org_id=booking.org_id,
                aggregate_id=str(booking.id),
            )
        return len(due)
