"""Pure booking rules: what a valid move window is and when a booking may still change."""

from __future__ import annotations

from datetime import datetime, timedelta

from dispatch.errors import Conflict, ValidationFailed
from persistence.statuses import BookingStatus

MAX_WINDOW = timedelta(hours=14)
MAX_ADVANCE = timedelta(days=365)
RESCHEDULABLE = frozenset({BookingStatus.PENDING, BookingStatus.CONFIRMED})


def check_window(start: datetime, end: datetime, now: datetime) -> None:
    """A move window starts in the future, ends after it starts and lasts at most 14 hours."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValidationFailed("window times need a timezone offset", field="window_start")
    if start <= now:
        raise ValidationFailed("the window must start in the future", field="window_start")
    if start - now > MAX_ADVANCE:
        raise ValidationFailed("moves are booked at most a year ahead", field="window_start")
    if end <= start:
        raise ValidationFailed("window_end must be after window_start", field="window_end")
    if end - start > MAX_WINDOW:
        raise ValidationFailed("a move window lasts at most 14 hours", field="window_end")


def check_reschedulable(status: str, fields: set[str]) -> None:
    """Window and addresses change only before a crew is assigned; notes change any time."""
    moved = sorted(fields - {"notes"})
    if moved and status not in RESCHEDULABLE:
        raise Conflict(
            f"the booking is {status}: {', '.join(moved)} can no longer change "
            "(only while pending or confirmed)",
            field=moved[0],
            booking_status=status,
        )
