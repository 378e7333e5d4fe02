"""Bookings, who carries them out (assignments) and every status change they went through."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSTZRANGE, UUID, Range
from sqlalchemy.orm import Mapped, mapped_column

from persistence.models.base import Base, point, status_known, timestamp_column, uuid_pk
from persistence.statuses import BookingStatus


class Booking(Base):
    __tablename__ = "bookings"
    __table_args__ = (
        status_known(BookingStatus),
        CheckConstraint("window_end > window_start", name="window_ordered"),
        CheckConstraint("volume_m3 > 0", name="volume_positive"),
        CheckConstraint("crew_size BETWEEN 1 AND 12", name="crew_size_range"),
        CheckConstraint("price_cents >= 0", name="price_non_negative"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    org_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="RESTRICT")
    )
    customer_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    pickup_address: Mapped[str] = mapped_column(String(500))
    pickup_location: Mapped[Any] = mapped_column(point())
    dropoff_address: Mapped[str] = mapped_column(String(500))
    dropoff_location: Mapped[Any] = mapped_column(point())
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    window_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    volume_m3: Mapped[float] = mapped_column(Numeric(6, 1))
    crew_size: Mapped[int] = mapped_column(Integer)
    required_skills: Mapped[list[str]] = mapped_column(ARRAY(String), default=list, server_default="{}")
    distance_km: Mapped[float] = mapped_column(Numeric(8, 2))
    price_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(
        String(16), default=BookingStatus.PENDING.value, server_default=BookingStatus.PENDING.value
    )
    notes: Mapped[str] = mapped_column(Text, default="", server_default="")
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[datetime] = timestamp_column()
    updated_at: Mapped[datetime] = timestamp_column()

    __mapper_args__ = {"version_id_col": version}


class BookingAssignment(Base):
    """A driver and a truck holding a time window; exclusion constraints forbid overlaps."""

    __tablename__ = "booking_assignments"

    id: Mapped[uuid.UUID] = uuid_pk()
    org_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="RESTRICT"), index=True
    )
    booking_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("bookings.id", ondelete="CASCADE"), index=True
    )
    driver_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("drivers.id", ondelete="RESTRICT")
    )
    truck_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("trucks.id", ondelete="RESTRICT")
    )
    window: Mapped[Range[datetime]] = mapped_column(TSTZRANGE)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    method: Mapped[str] = mapped_column(String(16), default="manual")
    score: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    assigned_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = timestamp_column()
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class BookingStatusHistory(Base):
    __tablename__ = "booking_status_history"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    booking_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("bookings.id", ondelete="CASCADE")
    )
    org_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    actor_role: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, default=dict, server_default="{}")
    created_at: Mapped[datetime] = timestamp_column()


# The indexes the migrations create, declared here too: tests/integration/test_schema_drift.py
# holds these models and the migrated schema to the same shape.
Index("ix_bookings_org_id", Booking.org_id, Booking.window_start)
Index("ix_booking_status_history_booking_id", BookingStatusHistory.booking_id, BookingStatusHistory.id)
Index("ix_booking_assignments_driver_active", BookingAssignment.driver_id, postgresql_where=text("active"))
Index("ix_booking_assignments_truck_active", BookingAssignment.truck_id, postgresql_where=text("active"))
Index(
    "uq_booking_assignments_active_booking",
    BookingAssignment.booking_id,
    unique=True,
    postgresql_where=text("active"),
)
