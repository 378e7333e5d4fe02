"""A payments port for tests that, each time it is asked for an intent, first lists (from a
connection of its own) the other backends of the app's database user in this database that
have a transaction open: the request that asks must hold none while the provider answers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from persistence.integrations.payments import IntentResult, PaymentsPort, RefundResult
from persistence.session import SYSTEM, tenant_session

OPEN_TRANSACTIONS = text(
    "SELECT pid, state, left(query, 160) FROM pg_stat_activity"
    " WHERE datname = current_database() AND usename = current_user"
    " AND pid <> pg_backend_pid() AND xact_start IS NOT NULL")


async def open_transactions() -> list[tuple[Any, ...]]:
    """(pid, state, last statement) of every other backend of ours in a transaction now."""
    async with tenant_session(SYSTEM) as session:
        return [tuple(row) for row in (await session.execute(OPEN_TRANSACTIONS)).all()]


class NoTransactionProbe:
    """Wraps a payments port; `seen` holds, per intent asked for, the open transactions."""

    def __init__(self, inner: PaymentsPort) -> None:
        self.inner, self.name = inner, inner.name
        self.seen: list[list[tuple[Any, ...]]] = []

    async def create_intent(self, amount_cents: int, currency: str, idempotency_key: str,
                            metadata: dict[str, str]) -> IntentResult:
        self.seen.append(await open_transactions())
        return await self.inner.create_intent(amount_cents, currency, idempotency_key,
                                              metadata)

    async def refund(self, provider_payment_id: str, amount_cents: int,
                     idempotency_key: str) -> RefundResult:
        return await self.inner.refund(provider_payment_id, amount_cents, idempotency_key)


async def assert_probe_sees_an_open_transaction() -> None:
    """The probe can fail: a transaction of ours left open is seen."""
    async with tenant_session(SYSTEM) as session:
        await session.execute(text("SELECT 1"))
        seen = await open_transactions()
    assert any(state == "idle in transaction" for _, state, _ in seen), seen
