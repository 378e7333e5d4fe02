"""Pure booking rules: window validity and when a booking may still be moved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dispatch.bookings.rules import check_reschedulable, check_window
from dispatch.errors import Conflict, ValidationFailed

NOW = datetime(2027, 5, 3, 9, 0, tzinfo=UTC)


def test_valid_window_passes() -> None:
    check_window(NOW + timedelta(hours=1), NOW + timedelta(hours=15), NOW)


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (NOW, NOW + timedelta(hours=2), "window_start"),
        (NOW - timedelta(days=1), NOW + timedelta(hours=2), "window_start"),
        (NOW + timedelta(days=400), NOW + timedelta(days=400, hours=2), "window_start"),
        (NOW + timedelta(hours=3), NOW + timedelta(hours=3), "window_end"),
        (NOW + timedelta(hours=3), NOW + timedelta(hours=2), "window_end"),
        (NOW + timedelta(hours=1), NOW + timedelta(hours=15, minutes=1), "window_end"),
        (datetime(2027, 6, 1, 8), datetime(2027, 6, 1, 9), "window_start"),
    ],
)
def test_bad_windows_name_the_field(start: datetime, end: datetime, field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_window(start, end, NOW)
    assert caught.value.extra["field"] == field


def test_notes_change_in_any_status_but_moves_only_before_assignment() -> None:
    for status in ("pending", "confirmed", "assigned", "completed", "cancelled"):
        check_reschedulable(status, {"notes"})
    check_reschedulable("confirmed", {"window_start", "pickup"})
    with pytest.raises(Conflict) as caught:
        check_reschedulable("en_route", {"notes", "pickup", "window_end"})
    assert caught.value.extra == {"field": "pickup", "booking_status": "en_route"}
