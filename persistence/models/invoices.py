"""Invoices of a mover to a customer: lines, payments received, and the per-year number counter."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CHAR,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column, relationship

from persistence.models.base import Base, status_known, timestamp_column, uuid_pk
from persistence.statuses import InvoiceStatus, OnlinePaymentStatus

PAYMENT_METHODS = ("bank_transfer", "card", "cash", "other")


class InvoiceCounter(Base):
    """The last number given per organization and year; bumped in the issuing transaction."""

    __tablename__ = "invoice_counters"

    org_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    year: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Invoice(Base):
    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("org_id", "year", "sequence", name="uq_invoices_org_year_sequence"),
        status_known(InvoiceStatus),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    org_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="RESTRICT")
    )
    customer_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="RESTRICT")
    )
    booking_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("bookings.id", ondelete="RESTRICT")
    )
    number: Mapped[str | None] = mapped_column(String(32), unique=True)
    year: Mapped[int | None] = mapped_column(SmallInteger)
    sequence: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="draft", server_default="draft")
    currency: Mapped[str] = mapped_column(CHAR(3))
    subtotal_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    tax_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    total_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    payment_terms_days: Mapped[int] = mapped_column(SmallInteger, default=14)
    issue_date: Mapped[date | None] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date)
    bill_to_name: Mapped[str] = mapped_column(String(200), default="")
    bill_to_email: Mapped[str | None] = mapped_column(String(320))
    notes: Mapped[str] = mapped_column(Text, default="")
    payment_instructions: Mapped[str] = mapped_column(Text, default="")
    void_reason: Mapped[str] = mapped_column(Text, default="")
    # The stored PDF and the invoice version it shows; a newer version renders a new PDF.
    pdf_document_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("documents.id", ondelete="SET NULL")
    )
    pdf_version: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    issued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    overdue_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    voided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = timestamp_column()
    updated_at: Mapped[datetime] = timestamp_column()

    line_items: Mapped[list[InvoiceLineItem]] = relationship(
        order_by="InvoiceLineItem.position", cascade="all, delete-orphan", lazy="raise"
    )
    payments: Mapped[list[InvoicePayment]] = relationship(
        order_by="InvoicePayment.received_at", cascade="all, delete-orphan", lazy="raise"
    )


class InvoiceLineItem(Base):
    __tablename__ = "invoice_line_items"
    __table_args__ = (
        UniqueConstraint("invoice_id", "position", name="uq_invoice_line_items_invoice_position"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    invoice_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("invoices.id", ondelete="CASCADE")
    )
    org_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE")
    )
    position: Mapped[int] = mapped_column(SmallInteger)
    description: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[Decimal] = mapped_column(Numeric(10, 3))
    unit_price_cents: Mapped[int] = mapped_column(BigInteger)
    tax_rate_bp: Mapped[int] = mapped_column(Integer, default=0)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    tax_cents: Mapped[int] = mapped_column(BigInteger)


class InvoicePayment(Base):
    __tablename__ = "invoice_payments"

    id: Mapped[uuid.UUID] = uuid_pk()
    invoice_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("invoices.id", ondelete="CASCADE")
    )
    org_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE")
    )
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    method: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str] = mapped_column(String(128), default="")
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = timestamp_column()


class InvoiceOnlinePayment(Base):
    """A PaymentIntent started for an invoice's balance: recorded when the provider answers,
    settled by the provider's webhook (which writes the InvoicePayment it led to)."""

    __tablename__ = "invoice_online_payments"
    __table_args__ = (
        UniqueConstraint("invoice_id", "attempt", name="uq_invoice_online_payments_attempt"),
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        status_known(OnlinePaymentStatus),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    invoice_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("invoices.id", ondelete="RESTRICT")
    )
    org_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="RESTRICT")
    )
    customer_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="RESTRICT")
    )
    attempt: Mapped[int] = mapped_column(Integer)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(CHAR(3))
    provider: Mapped[str] = mapped_column(String(16))
    # None while the attempt is requested (recorded, the provider not yet answered).
    provider_payment_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    client_secret: Mapped[str | None] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(
        String(24),
        default=OnlinePaymentStatus.REQUIRES_PAYMENT.value,
        server_default=OnlinePaymentStatus.REQUIRES_PAYMENT.value,
    )
    # What the provider reported received, and how much of it went onto the invoice.
    received_cents: Mapped[int | None] = mapped_column(BigInteger)
    credited_cents: Mapped[int | None] = mapped_column(BigInteger)
    invoice_payment_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("invoice_payments.id", ondelete="SET NULL")
    )
    last_event_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = timestamp_column()
    updated_at: Mapped[datetime] = timestamp_column()


# The indexes the migrations create, declared here too: tests/integration/test_schema_drift.py
# holds these models and the migrated schema to the same shape.
Index("ix_invoices_booking_id", Invoice.booking_id)
Index("ix_invoices_customer_id", Invoice.customer_id)
Index("ix_invoices_due", Invoice.due_date, postgresql_where=text("status = 'issued'"))
Index("ix_invoices_org_recent", Invoice.org_id, Invoice.created_at.desc(), Invoice.id.desc())
Index("ix_invoice_line_items_org_id", InvoiceLineItem.org_id)
Index("ix_invoice_payments_invoice_id", InvoicePayment.invoice_id)
Index("ix_invoice_payments_org_id", InvoicePayment.org_id)
Index(
    "uq_invoice_payments_invoice_reference",
    InvoicePayment.invoice_id,
    InvoicePayment.reference,
    unique=True,
    postgresql_where=text("reference <> ''"),
)
Index("ix_invoice_online_payments_org_id", InvoiceOnlinePayment.org_id)
Index("ix_invoice_online_payments_customer_id", InvoiceOnlinePayment.customer_id)
Index(
    "uq_invoice_online_payments_open",
    InvoiceOnlinePayment.invoice_id,
    unique=True,
    postgresql_where=text("status IN ('requires_payment', 'processing')"),
)
