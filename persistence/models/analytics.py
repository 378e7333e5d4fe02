"""Indexes the analytics views read through (migration 0015), declared on their tables so
tests/integration/test_schema_drift.py holds models and migrations to the same shape."""

from __future__ import annotations

from sqlalchemy import Index, text

from persistence.models.bookings import Booking, BookingAssignment, BookingStatusHistory
from persistence.statuses import BookingStatus

Index(
    "ix_bookings_analytics_org",
    Booking.org_id,
    Booking.window_start,
    postgresql_include=["status", "currency", "price_cents", "customer_id", "id"],
)
Index(
    "ix_bookings_analytics_time",
    Booking.window_start,
    postgresql_include=["org_id", "status", "currency", "price_cents", "customer_id", "id"],
)
Index(
    "ix_booking_status_history_arrivals",
    BookingStatusHistory.booking_id,
    postgresql_include=["org_id", "created_at"],
    postgresql_where=text(f"to_status = '{BookingStatus.ARRIVED.value}'"),
)
Index(
    "ix_booking_assignments_analytics",
    BookingAssignment.booking_id,
    postgresql_include=["org_id", "driver_id", "truck_id", "window"],
    postgresql_where=BookingAssignment.active,
)
