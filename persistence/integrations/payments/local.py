"""The local test-mode ledger: payments succeed at once; ids derive from idempotency keys, so
a retried call returns the same answer, as a real provider would."""

from __future__ import annotations

import hashlib

from persistence.integrations.payments.port import IntentResult, RefundResult


def _id(prefix: str, key: str) -> str:
    return f"{prefix}_local_{hashlib.sha256(key.encode()).hexdigest()[:24]}"


class LocalLedger:
    name = "local"

    async def create_intent(
        self, amount_cents: int, currency: str, idempotency_key: str, metadata: dict[str, str]
    ) -> IntentResult:
        return IntentResult(_id("pi", idempotency_key), "succeeded", None)

    async def refund(self, provider_payment_id: str, amount_cents: int, idempotency_key: str) -> RefundResult:
        return RefundResult(_id("re", idempotency_key), "succeeded")
