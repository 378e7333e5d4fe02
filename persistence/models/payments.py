"""Money movements of a booking: payments in, refunds out, and provider events seen."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from persistence.models.base import Base, status_known, timestamp_column, uuid_pk
from persistence.statuses import RefundStatus


def _kept(target: str) -> Mapped[uuid.UUID]:
    """A reference whose row cannot be deleted while money records point at it."""
    return mapped_column(UUID(as_uuid=True), ForeignKey(target, ondelete="RESTRICT"))


class Payment(Base):
    __tablename__ = "payments"

    id: Mapped[uuid.UUID] = uuid_pk()
    org_id: Mapped[uuid.UUID] = _kept("organizations.id")
    booking_id: Mapped[uuid.UUID] = _kept("bookings.id")
    customer_id: Mapped[uuid.UUID] = _kept("users.id")
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    provider: Mapped[str] = mapped_column(String(16))
    provider_payment_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    client_secret: Mapped[str | None] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(24), default="requires_payment")
    last_event_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = timestamp_column()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class Refund(Base):
    __tablename__ = "refunds"
    __table_args__ = (status_known(RefundStatus),)

    id: Mapped[uuid.UUID] = uuid_pk()
    org_id: Mapped[uuid.UUID] = _kept("organizations.id")
    booking_id: Mapped[uuid.UUID] = _kept("bookings.id")
    payment_id: Mapped[uuid.UUID] = _kept("payments.id")
    customer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason_code: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default=RefundStatus.PENDING.value)
    provider_refund_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Bumped only when the provider fails a refund it had accepted: a new key asks anew.
    key_generation: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = timestamp_column()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    @property
    def idempotency_key(self) -> str:
        """Derived from the row, so every retry of this refund asks the provider the same thing."""
        return f"movehub-refund-{self.id}-{self.key_generation}"


class PaymentEvent(Base):
    """A provider webhook event already handled (dedup by the provider's event id)."""

    __tablename__ = "payment_events"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = timestamp_column()


# The indexes the migrations create, declared here too: tests/integration/test_schema_drift.py
# holds these models and the migrated schema to the same shape.
Index("ix_payments_booking_id", Payment.booking_id)
Index("ix_payments_org_id", Payment.org_id)
Index(
    "uq_payments_open_per_booking",
    Payment.booking_id,
    unique=True,
    postgresql_where=text("status IN ('requires_payment', 'processing')"),
)
Index("ix_refunds_booking_id", Refund.booking_id)
Index("ix_refunds_org_id", Refund.org_id)
