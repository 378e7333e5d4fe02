"""Stripe through its official SDK (async client methods, idempotency keys on every write)."""

from __future__ import annotations

import stripe

from persistence.integrations.payments.port import IntentResult, PaymentProviderError, RefundResult

_INTENT_STATUS = {
    "succeeded": "succeeded",
    "processing": "processing",
    "canceled": "failed",
}


class StripeGateway:
    name = "stripe"

    def __init__(self, api_key: str, api_base: str = "", timeout_s: float = 10.0) -> None:
        base = {"api": api_base} if api_base else None
        self._client = stripe.StripeClient(
            api_key,
            base_addresses=base,  # type: ignore[arg-type]
            http_client=stripe.HTTPXClient(timeout=timeout_s),
            max_network_retries=0,  # the outbox owns retries (same key, its backoff)
        )

    async def create_intent(
        self, amount_cents: int, currency: str, idempotency_key: str, metadata: dict[str, str]
    ) -> IntentResult:
        try:
            intent = await self._client.v1.payment_intents.create_async(
                params={
                    "amount": amount_cents,
                    "currency": currency.lower(),
                    "metadata": metadata,
                    "automatic_payment_methods": {"enabled": True},
                },
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise PaymentProviderError(f"stripe: {type(exc).__name__}: {exc}") from exc
        status = _INTENT_STATUS.get(intent.status, "requires_payment")
        return IntentResult(intent.id, status, intent.client_secret)

    async def refund(self, provider_payment_id: str, amount_cents: int, idempotency_key: str) -> RefundResult:
        try:
            refund = await self._client.v1.refunds.create_async(
                params={"payment_intent": provider_payment_id, "amount": amount_cents},
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise PaymentProviderError(f"stripe: {type(exc).__name__}: {exc}") from exc
        status = refund.status if refund.status in ("succeeded", "failed") else "pending"
        return RefundResult(refund.id, status)
