"""The payments port: what MoveHub asks of a payment provider, and the provider's answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class PaymentProviderError(Exception):
    """The provider did not give a usable answer (timeout, 5xx, 429, reset): safe to retry
    with the same idempotency key."""


@dataclass(frozen=True, slots=True)
class IntentResult:
    provider_payment_id: str
    status: str  # requires_payment | processing | succeeded | failed
    client_secret: str | None


@dataclass(frozen=True, slots=True)
class RefundResult:
    provider_refund_id: str
    status: str  # pending | succeeded | failed


class PaymentsPort(Protocol):
    name: str

    async def create_intent(
        self, amount_cents: int, currency: str, idempotency_key: str, metadata: dict[str, str]
    ) -> IntentResult: ...

    async def refund(
        self, provider_payment_id: str, amount_cents: int, idempotency_key: str
    ) -> RefundResult: ...
