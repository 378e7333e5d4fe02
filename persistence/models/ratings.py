"""Customer ratings of completed bookings and the running counters that aggregate them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, DateTime, ForeignKey, Index, SmallInteger, Text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from persistence.models.base import Base, timestamp_column, uuid_pk


class Rating(Base):
    """One customer's verdict on one completed booking: overall stars, driver stars, a comment."""

    __tablename__ = "ratings"
    __table_args__ = (
        CheckConstraint("overall BETWEEN 1 AND 5", name="overall_range"),
        CheckConstraint("driver_rating BETWEEN 1 AND 5", name="driver_rating_range"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    org_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE")
    )
    booking_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("bookings.id", ondelete="CASCADE"), unique=True
    )
    customer_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    driver_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("drivers.id", ondelete="SET NULL"), index=True
    )
    overall: Mapped[int] = mapped_column(SmallInteger)
    driver_rating: Mapped[int | None] = mapped_column(SmallInteger)
    comment: Mapped[str] = mapped_column(Text, default="", server_default="")
    hidden: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    hidden_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    hidden_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    hidden_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = timestamp_column()
    updated_at: Mapped[datetime] = timestamp_column()


class OrganizationRatingStats(Base):
    """Running sum, count and 1-5 star breakdown of an organization's visible ratings."""

    __tablename__ = "organization_rating_stats"

    org_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    rating_sum: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    rating_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    stars_1: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    stars_2: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    stars_3: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    stars_4: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    stars_5: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    updated_at: Mapped[datetime] = timestamp_column()


class DriverRatingStats(Base):
    """Running sum and count of a driver's visible driver ratings."""

    __tablename__ = "driver_rating_stats"

    driver_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("drivers.id", ondelete="CASCADE"), primary_key=True
    )
    org_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    rating_sum: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    rating_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    updated_at: Mapped[datetime] = timestamp_column()


# The indexes the migrations create, declared here too: tests/integration/test_schema_drift.py
# holds these models and the migrated schema to the same shape.
Index(
    "ix_ratings_org_recent",
    Rating.org_id,
    Rating.created_at.desc(),
    Rating.id.desc(),
    postgresql_where=~Rating.hidden,
)
