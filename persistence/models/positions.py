"""Where drivers are and were: the latest position per driver and the breadcrumb trail."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import REAL, DateTime, ForeignKey
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from persistence.models.base import Base, point, timestamp_column


class DriverPosition(Base):
    """The newest ping of each driver (snapshots of a board without the Ray fleet)."""

    __tablename__ = "driver_positions"

    driver_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("drivers.id", ondelete="CASCADE"), primary_key=True
    )
    org_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    location: Mapped[Any] = mapped_column(point())
    heading: Mapped[float | None] = mapped_column(REAL)
    speed: Mapped[float | None] = mapped_column(REAL)
    accuracy: Mapped[float | None] = mapped_column(REAL)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = timestamp_column()


class DriverBreadcrumb(Base):
    """One point of a driver's trail (at most one per MOVEHUB_TRAIL_MIN_INTERVAL_S).

    Partitioned by UTC day (migration 0011; persistence/positions_partitions.py keeps them).
    """

    __tablename__ = "driver_breadcrumbs"
    __table_args__ = {"postgresql_partition_by": "RANGE (recorded_at)"}

    driver_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("drivers.id", ondelete="CASCADE"), primary_key=True
    )
    org_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    location: Mapped[Any] = mapped_column(point())
    heading: Mapped[float | None] = mapped_column(REAL)
    speed: Mapped[float | None] = mapped_column(REAL)
    accuracy: Mapped[float | None] = mapped_column(REAL)
