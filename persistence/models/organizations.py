"""Mover organizations: who they are, where they serve and how they price."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Index, Numeric, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from persistence.models.base import Base, multipolygon, point, timestamp_column, uuid_pk


class Organization(Base):
    __tablename__ = "organizations"
    __table_args__ = (
        CheckConstraint(
            "hourly_rate_cents >= 0 AND per_km_cents >= 0 AND minimum_charge_cents >= 0",
            name="pricing_non_negative",
        ),
        CheckConstraint("code ~ '^[A-Z0-9]{2,12}$'", name="code_format"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(200))
    code: Mapped[str] = mapped_column(String(12), unique=True)
    service_area: Mapped[Any] = mapped_column(multipolygon())
    base_location: Mapped[Any] = mapped_column(point())
    hourly_rate_cents: Mapped[int] = mapped_column(BigInteger)
    per_km_cents: Mapped[int] = mapped_column(BigInteger)
    minimum_charge_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    contact_email: Mapped[str | None] = mapped_column(String(320))
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    rating_avg: Mapped[float] = mapped_column(Numeric(3, 2), default=0, server_default="0")
    rating_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    refund_policy: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = timestamp_column()


# The indexes the migrations create, declared here too: tests/integration/test_schema_drift.py
# holds these models and the migrated schema to the same shape.
Index("ix_organizations_service_area", Organization.service_area, postgresql_using="gist")
