"""Indexes the analytics views read through (migration 0015), declared on their tables so
tests/integration/test_schema_drift.py holds models and migrations to the same shape."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Uuid,
    func,
    text,
)

from persistence.models.base import Base
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


# Per-organization, per-zone, per-day rollups the analytics views read for closed days
# (migration 0019; refreshed by persistence/analytics_rollups.py). Plain tables: written by
# set-based SQL, never through the ORM.
def _org_day(name: str, *columns: Column[Any], key: tuple[str, ...] = ()) -> Table:
    return Table(
        name,
        Base.metadata,
        Column("org_id", Uuid, ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
        Column("zone", String(64), nullable=False),
        Column("day", Date, nullable=False),
        *columns,
        PrimaryKeyConstraint("org_id", "zone", "day", *key),
        Index(f"ix_{name}_zone_day", "zone", "day"),
    )


AnalyticsRollupDays = _org_day(
    "analytics_rollup_days",
    Column("refreshed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
AnalyticsBookingDays = _org_day(
    "analytics_booking_days",
    Column("status", String(16), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("bookings", BigInteger, nullable=False),
    Column("price_cents", BigInteger, nullable=False),
    key=("status", "currency"),
)
AnalyticsDriverDays = _org_day(
    "analytics_driver_days",
    Column("driver_id", Uuid, nullable=False),
    Column("jobs", BigInteger, nullable=False),
    Column("completed", BigInteger, nullable=False),
    Column("arrivals", BigInteger, nullable=False),
    Column("on_time", BigInteger, nullable=False),
    key=("driver_id",),
)
AnalyticsTruckDays = _org_day(
    "analytics_truck_days",
    Column("truck_id", Uuid, nullable=False),
    Column("jobs", BigInteger, nullable=False),
    Column("busy_seconds", Numeric, nullable=False),
    key=("truck_id",),
)
# The days a write touched since the last refresh (appended by triggers, no key: no locks).
AnalyticsDirty = Table(
    "analytics_dirty",
    Base.metadata,
    Column("org_id", Uuid, nullable=False),
    Column("zone", String(64), nullable=False),
    Column("day", Date, nullable=False),
    Column("marked_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_analytics_dirty_day", "org_id", "zone", "day"),
)
