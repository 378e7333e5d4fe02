"""An organization's fleet: drivers and trucks."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from persistence.models.base import Base, point, timestamp_column, uuid_pk

DRIVER_STATUSES = ("active", "inactive", "suspended")
DRIVER_SKILLS = ("driver", "foreman", "packer")
TRUCK_STATUSES = ("active", "maintenance", "retired")


class Driver(Base):
    __tablename__ = "drivers"
    __table_args__ = (
        CheckConstraint(f"status IN {DRIVER_STATUSES}", name="status_known"),
        CheckConstraint("skills <@ ARRAY['driver','foreman','packer']::text[]", name="skills_known"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    org_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL"), unique=True
    )
    full_name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    skills: Mapped[list[str]] = mapped_column(ARRAY(String), default=lambda: ["driver"])
    home_base: Mapped[Any] = mapped_column(point())
    verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    rating_avg: Mapped[float] = mapped_column(Numeric(3, 2), default=0, server_default="0")
    created_at: Mapped[datetime] = timestamp_column()


class Truck(Base):
    __tablename__ = "trucks"
    __table_args__ = (
        CheckConstraint(f"status IN {TRUCK_STATUSES}", name="status_known"),
        CheckConstraint("capacity_m3 > 0", name="capacity_positive"),
        UniqueConstraint("org_id", "plate", name="uq_trucks_org_plate"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    org_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    plate: Mapped[str] = mapped_column(String(20))
    capacity_m3: Mapped[float] = mapped_column(Numeric(6, 1))
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    home_base: Mapped[Any | None] = mapped_column(point())
    created_at: Mapped[datetime] = timestamp_column()


# The indexes the migrations create, declared here too: tests/integration/test_schema_drift.py
# holds these models and the migrated schema to the same shape.
Index("ix_drivers_home_base", Driver.home_base, postgresql_using="gist")
