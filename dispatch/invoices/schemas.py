"""Invoice I/O: drafts with their lines, payments, voiding, and what callers read back."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from persistence.statuses import OnlinePaymentStatus

InvoiceStatusName = Literal["draft", "issued", "paid", "overdue", "void"]
PaymentMethod = Literal["bank_transfer", "card", "cash", "other"]
TaxRate = Annotated[
    int, Field(ge=0, le=10_000, examples=[1900], description="tax rate in basis points (1900 = 19 %)")
]
PaymentTerms = Annotated[int, Field(ge=0, le=365, examples=[14], description="days from issue to due date")]


class LineItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = Field(min_length=1, max_length=500, examples=["Crew of 2, 4 hours"])
    quantity: Decimal = Field(
        gt=0, le=Decimal("999999.999"), max_digits=10, decimal_places=3, allow_inf_nan=False, examples=["4"]
    )
    unit_price_cents: int = Field(ge=0, le=10**11, examples=[9000])
    tax_rate_bp: TaxRate = 0


class InvoiceCreate(BaseModel):
    """A draft: from a booking (customer, currency and a line from its price by default), or
    for a customer with explicit lines."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"booking_id": "1b8e3c4a-3f7e-4d6a-9c1b-2e5f7a9d0c11", "tax_rate_bp": 1900}]
        },
    )

    booking_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None
    org_id: uuid.UUID | None = Field(
        default=None, description="platform admins only, when there is no booking"
    )
    currency: str | None = Field(default=None, pattern="^[A-Z]{3}$", examples=["EUR"])
    line_items: list[LineItemIn] | None = Field(default=None, min_length=1, max_length=100)
    tax_rate_bp: TaxRate = Field(default=0, description="for the line made from the booking")
    payment_terms_days: PaymentTerms = 14
    notes: str = Field(default="", max_length=4000)
    payment_instructions: str = Field(default="", max_length=2000)


class InvoiceUpdate(BaseModel):
    """Edit a draft; omitted fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    line_items: list[LineItemIn] | None = Field(default=None, min_length=1, max_length=100)
    payment_terms_days: PaymentTerms | None = None
    notes: str | None = Field(default=None, max_length=4000)
    payment_instructions: str | None = Field(default=None, max_length=2000)


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount_cents: int = Field(gt=0, le=10**12, examples=[15000])
    method: PaymentMethod = "bank_transfer"
    reference: str = Field(default="", max_length=128, examples=["SEPA 2026-05-01 #4471"])
    received_at: AwareDatetime | None = None


class VoidIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000, examples=["issued to the wrong customer"])


class LineItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    position: int
    description: str
    quantity: Decimal
    unit_price_cents: int
    tax_rate_bp: int
    amount_cents: int
    tax_cents: int


class PaymentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    amount_cents: int
    method: str
    reference: str
    received_at: datetime


class InvoiceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    org_id: uuid.UUID
    customer_id: uuid.UUID
    booking_id: uuid.UUID | None
    number: str | None = Field(examples=["INV-2026-ACME-00042"])
    status: InvoiceStatusName
    currency: str
    subtotal_cents: int
    tax_cents: int
    total_cents: int
    paid_cents: int
    outstanding_cents: int
    payment_terms_days: int
    issue_date: date | None
    due_date: date | None
    bill_to_name: str
    notes: str
    payment_instructions: str
    void_reason: str
    issued_at: datetime | None
    paid_at: datetime | None
    voided_at: datetime | None
    created_at: datetime
    line_items: list[LineItemOut]
    payments: list[PaymentOut]


class InvoiceSummary(BaseModel):
    """A row of the invoice list (no lines or payments)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    org_id: uuid.UUID
    customer_id: uuid.UUID
    booking_id: uuid.UUID | None
    number: str | None
    status: InvoiceStatusName
    currency: str
    total_cents: int
    paid_cents: int
    issue_date: date | None
    due_date: date | None
    created_at: datetime


class OnlinePaymentOut(BaseModel):
    """An online payment of an invoice's balance: hand `client_secret` to Stripe.js (or the
    mobile SDK) to collect the card; the provider's webhook settles it."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "3f2e1d0c-9b8a-4f7e-8d6c-5b4a3f2e1d0c",
                    "invoice_id": "8a7b6c5d-4e3f-4a2b-9c1d-0e9f8a7b6c5d",
                    "attempt": 0,
                    "amount_cents": 42000,
                    "currency": "EUR",
                    "status": "requires_payment",
                    "provider": "stripe",
                    "provider_payment_id": "pi_3Nq...",
                    "client_secret": "pi_3Nq..._secret_...",
                    "credited_cents": None,
                    "created_at": "2026-11-24T09:00:00Z",
                }
            ]
        },
    )

    id: uuid.UUID
    invoice_id: uuid.UUID
    attempt: int
    amount_cents: int = Field(description="the invoice's balance when the payment started")
    currency: str
    status: OnlinePaymentStatus
    provider: str
    provider_payment_id: str | None = Field(
        description="None while the attempt is recorded but the provider has not answered yet"
    )
    client_secret: str | None
    credited_cents: int | None = Field(description="what went onto the invoice once settled")
    created_at: datetime
