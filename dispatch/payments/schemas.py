"""Payment payloads."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class PaymentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    booking_id: uuid.UUID
    amount_cents: int = Field(examples=[30000])
    currency: str = Field(examples=["EUR"])
    provider: str = Field(examples=["stripe"])
    status: str = Field(examples=["requires_payment"])
    client_secret: str | None = Field(
        default=None, description="hand to Stripe.js to confirm the payment in the browser"
    )
    created_at: datetime


class WebhookAck(BaseModel):
    received: bool = True
    duplicate: bool = False
