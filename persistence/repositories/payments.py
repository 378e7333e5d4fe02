"""Payment queries: a booking's payments, the one open attempt, and provider events seen."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from persistence.models import Payment, PaymentEvent
from persistence.repositories.base import Repository

# A payment in one of these states blocks starting another for the same booking.
OPEN_PAYMENT_STATUSES = ("requires_payment", "processing", "succeeded")


class PaymentRepository(Repository[Payment]):
    model = Payment

    async def open_for_booking(self, booking_id: uuid.UUID) -> Payment | None:
        """The booking's payment still in play (started, processing or paid), if any."""
        return await self.session.scalar(
            select(Payment).where(Payment.booking_id == booking_id, Payment.status.in_(OPEN_PAYMENT_STATUSES))
        )

    async def attempts_for_booking(self, booking_id: uuid.UUID) -> int:
        """How many payments the booking has had: numbers the next attempt's idempotency key."""
        return int(
            await self.session.scalar(
                select(func.count()).select_from(Payment).where(Payment.booking_id == booking_id)
            )
            or 0
        )

    async def succeeded_for_booking(self, booking_id: uuid.UUID) -> Payment | None:
        """The booking's latest successful payment: what refunds are paid back from."""
        return await self.session.scalar(
            select(Payment)
            .where(Payment.booking_id == booking_id, Payment.status == "succeeded")
            .order_by(Payment.created_at.desc())
            .limit(1)
        )

    async def lock_by_provider_id(self, provider_payment_id: str | None) -> Payment | None:
        """The payment a provider event is about, locked while the event is applied."""
        return await self.session.scalar(
            select(Payment).where(Payment.provider_payment_id == provider_payment_id).with_for_update()
        )

    async def lock_unanswered(self, payment_id: uuid.UUID) -> Payment | None:
        """A payment recorded before its provider answered (no provider id yet), locked."""
        return await self.session.scalar(
            select(Payment)
            .where(Payment.id == payment_id, Payment.provider_payment_id.is_(None))
            .with_for_update()
        )

    async def of_booking(self, booking_id: uuid.UUID) -> list[Payment]:
        """Every payment of a booking, oldest first."""
        return list(
            await self.session.scalars(
                select(Payment).where(Payment.booking_id == booking_id).order_by(Payment.created_at)
            )
        )

    async def record_event(self, event_id: str, kind: str, object_id: str, created_at: datetime) -> bool:
        """Remember a provider event; False when its id was seen before (a redelivery)."""
        inserted = await self.session.execute(
            insert(PaymentEvent)
            .values(id=event_id, type=kind, object_id=object_id, created_at=created_at)
            .on_conflict_do_nothing()
            .returning(PaymentEvent.id)
        )
        return inserted.first() is not None
