"""Routes: paying for a booking, and the payment provider's webhook."""

from __future__ import annotations

import uuid
from typing import Any

import stripe
from fastapi import APIRouter, Request, status

from dispatch.errors import DomainError, ValidationFailed
from dispatch.payments import service
from dispatch.payments.schemas import PaymentOut, WebhookAck
from gateway.deps import CurrentCaller, CustomerCaller, PaymentsDep, SessionDep, SettingsDep
from persistence import metrics
from persistence.session import SYSTEM, tenant_session

router = APIRouter(tags=["payments"])
MAX_WEBHOOK_BYTES = 256 * 1024


@router.post(
    "/bookings/{booking_id}/payments", response_model=PaymentOut, status_code=status.HTTP_201_CREATED
)
async def pay(booking_id: uuid.UUID, caller: CustomerCaller, payments: PaymentsDep) -> PaymentOut:
    """Start paying the booking's price (Stripe PaymentIntent, or the local ledger). No request
    session: the service opens its own short transactions around the provider call, so none
    is open while the provider answers. 409: not payable or already paid; 503: the provider
    did not answer (try again: the same attempt is asked for with the same key)."""
    payment = await service.start_payment(caller, booking_id, payments)
    return PaymentOut.model_validate(payment)


@router.get("/bookings/{booking_id}/payments", response_model=list[PaymentOut])
async def payments(booking_id: uuid.UUID, _: CurrentCaller, session: SessionDep) -> list[PaymentOut]:
    return [PaymentOut.model_validate(p) for p in await service.get_payments(session, booking_id)]


@router.post("/payments/stripe/webhook", response_model=WebhookAck)
async def stripe_webhook(request: Request, settings: SettingsDep) -> WebhookAck:
    """Stripe events, signature-checked (with a tolerance window) and applied at most once."""
    body = await request.body()
    if len(body) > MAX_WEBHOOK_BYTES:
        raise ValidationFailed("webhook body too large")
    try:
        event: dict[str, Any] = stripe.Webhook.construct_event(
            body,
            request.headers.get("stripe-signature", ""),
            settings.stripe_webhook_secret,
            tolerance=settings.stripe_webhook_tolerance_s,
        ).to_dict()
    except (stripe.SignatureVerificationError, ValueError) as exc:
        metrics.WEBHOOKS.labels("rejected").inc()
        raise DomainError("webhook signature, timestamp or payload invalid") from exc
    if not isinstance(event.get("data", {}).get("object"), dict) or "created" not in event:
        raise ValidationFailed("webhook event is missing data.object or created")
    async with tenant_session(SYSTEM) as session:
        fresh = await service.apply_webhook_event(session, event)
    metrics.WEBHOOKS.labels("applied" if fresh else "duplicate").inc()
    return WebhookAck(duplicate=not fresh)
