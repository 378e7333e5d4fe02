"""Cancellation and refund payloads."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from dispatch.refunds.rules import ReasonCode


class CancellationPreview(BaseModel):
    booking_id: uuid.UUID
    hours_before_start: float
    refund_percent: int = Field(examples=[75])
    paid_cents: int
    already_refunded_cents: int
    refund_cents: int = Field(examples=[22500])
    currency: str


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason_code: ReasonCode = Field(examples=["change_of_plans"])
    note: str = Field(default="", max_length=2000)


class RefundOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    booking_id: uuid.UUID
    amount_cents: int
    currency: str
    reason_code: str
    status: str
    attempts: int
    last_error: str | None
    provider_refund_id: str | None
    created_at: datetime


class CancellationOut(BaseModel):
    booking_id: uuid.UUID
    status: str
    refund: RefundOut | None
