"""A payments port for tests that, each time it is asked for an intent, first lists (from a
connection of its own) the other backends of the app's database user in this database that
have a transaction open: the request that asks must hold none while the provider answers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from persistence.integrations.payments import IntentResult, PaymentsPort, RefundResult
from persistence.session import SYSTEM, tenant_session

# Only transactions that have touched the tables a payment start reads or writes: other
# backends of ours (the position writer flushing another test's pings, a revocation check)
# may be mid-transaction at that instant without having anything to do with it.
PAYMENT_TABLES = ("bookings", "payments", "invoices", "invoice_online_payments")
OPEN_TRANSACTIONS = text(
    "SELECT DISTINCT a.pid, a.state, left(a.query, 160) FROM pg_stat_activity a"
    " JOIN pg_locks l ON l.pid = a.pid AND l.database = (SELECT oid FROM pg_database"
    "  WHERE datname = current_database())"
    " JOIN pg_class c ON c.oid = l.relation"
    " WHERE a.datname = current_database() AND a.usename = current_user"
    " AND a.pid <> pg_backend_pid() AND a.xact_start IS NOT NULL"
    " AND c.relname = ANY(:tables)"
).bindparams(tables=list(PAYMENT_TABLES))


async def open_transactions() -> list[tuple[Any, ...]]:
    """(pid, state, last statement) of every other backend of ours in a transaction now."""
    async with tenant_session(SYSTEM) as session:
        return [tuple(row) for row in (await session.execute(OPEN_TRANSACTIONS)).all()]


class NoTransactionProbe:
    """Wraps a payments port; `seen` holds, per intent asked for, the open transactions."""

    def __init__(self, inner: PaymentsPort) -> None:
        self.inner, self.name = inner, inner.name
        self.seen: list[list[tuple[Any, ...]]] = []

    async def create_intent(
        self, amount_cents: int, currency: str, idempotency_key: str, metadata: dict[str, str]
    ) -> IntentResult:
        self.seen.append(await open_transactions())
        return await self.inner.create_intent(amount_cents, currency, idempotency_key, metadata)

    async def refund(self, provider_payment_id: str, amount_cents: int, idempotency_key: str) -> RefundResult:
        return await self.inner.refund(provider_payment_id, amount_cents, idempotency_key)


async def assert_probe_sees_an_open_transaction() -> None:
    """The probe can fail: a transaction of ours left open is seen."""
    async with tenant_session(SYSTEM) as session:
        await session.execute(text("SELECT count(*) FROM bookings"))
        seen = await open_transactions()
    assert any(state == "idle in transaction" for _, state, _ in seen), seen
