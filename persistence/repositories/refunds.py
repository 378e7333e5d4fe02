"""Refund queries: what a payment has paid back, the admins' list, and a refund to send."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, func, select

from persistence.models import Payment, Refund
from persistence.repositories.base import Repository
from persistence.statuses import RefundStatus


class RefundRepository(Repository[Refund]):
    model = Refund

    async def committed_cents(self, payment_id: uuid.UUID) -> int:
        """Cents of a payment refunded or still to be sent (all but given-up refunds), so
        a new refund never takes the total past what was paid."""
        total = await self.session.scalar(
            select(func.coalesce(func.sum(Refund.amount_cents), 0)).where(
                Refund.payment_id == payment_id, Refund.status != RefundStatus.DEAD
            )
        )
        return int(total or 0)

    def by_status(self, status: str | None) -> Select[Any]:
        """Refunds newest first, optionally of one status (`dead` ones need a human)."""
        statement = select(Refund).order_by(Refund.created_at.desc(), Refund.id)
        return statement.where(Refund.status == status) if status else statement

    async def lock_with_provider_payment(self, refund_id: uuid.UUID) -> tuple[Refund, str] | None:
        """A refund about to be sent, locked, with the provider's id of the payment it repays."""
        row = (
            await self.session.execute(
                select(Refund, Payment.provider_payment_id)
                .join(Payment, Payment.id == Refund.payment_id)
                .where(Refund.id == refund_id)
                .with_for_update(of=Refund)
            )
        ).first()
        if row is None or row[1] is None:
            return None
        return row[0], row[1]

    async def lock_by_provider_id(self, provider_refund_id: str | None) -> Refund | None:
        """The refund a provider event is about, locked while the event is applied."""
        return await self.session.scalar(
            select(Refund).where(Refund.provider_refund_id == provider_refund_id).with_for_update()
        )
