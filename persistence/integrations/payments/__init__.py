"""Payments: Stripe when a key is configured, the local test-mode ledger otherwise."""

from __future__ import annotations

from persistence.config import Settings, get_settings
from persistence.integrations.payments.local import LocalLedger
from persistence.integrations.payments.port import (
    IntentResult,
    PaymentProviderError,
    PaymentsPort,
    RefundResult,
)

__all__ = ["IntentResult", "PaymentProviderError", "PaymentsPort", "RefundResult", "payments_port"]


def payments_port(settings: Settings | None = None) -> PaymentsPort:
    settings = settings or get_settings()
    if settings.stripe_api_key:
        from persistence.integrations.payments.stripe_gateway import StripeGateway

        return StripeGateway(settings.stripe_api_key, settings.stripe_api_base)
    return LocalLedger()
