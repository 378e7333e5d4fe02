"""The transactional outbox: side effects recorded in the same transaction as the change."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Index, Integer, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from persistence.models.base import Base, timestamp_column

OUTBOX_STATUSES = ("pending", "delivered", "dead")


class OutboxEvent(Base):
    __tablename__ = "outbox"
    __table_args__ = (CheckConstraint(f"status IN {OUTBOX_STATUSES}", name="status_known"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    org_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), index=True)
    topic: Mapped[str] = mapped_column(String(64))
    aggregate_id: Mapped[str] = mapped_column(String(64), default="")
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = timestamp_column()
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # W3C traceparent of the writer's span (persistence/telemetry.py); NULL with tracing off.
    traceparent: Mapped[str | None] = mapped_column(Text)


# The indexes the migrations create, declared here too: tests/integration/test_schema_drift.py
# holds these models and the migrated schema to the same shape.
Index("ix_outbox_pending", OutboxEvent.next_attempt_at, postgresql_where=text("status = 'pending'"))
