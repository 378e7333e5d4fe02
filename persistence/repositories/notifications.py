"""Notification queries: what a booking's messages show, which channels already went out, and
which bookings are due a reminder."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from persistence.models import Booking, NotificationDelivery, Organization, OutboxEvent, User
from persistence.repositories.base import Repository


class NotificationRepository(Repository[NotificationDelivery]):
    model = NotificationDelivery

    async def booking_for_messages(self, booking_id: uuid.UUID) -> tuple[Booking, str, str, str] | None:
        """(booking, org name, org timezone, customer name): what a booking's messages show."""
        row = (
            await self.session.execute(
                select(Booking, Organization.name, Organization.timezone, User.full_name)
                .join(Organization, Organization.id == Booking.org_id)
                .join(User, User.id == Booking.customer_id)
                .where(Booking.id == booking_id)
            )
        ).first()
        if row is None:
            return None
        booking, org_name, timezone, customer_name = row
        return booking, org_name, timezone, customer_name

    async def channels_sent(self, outbox_id: int) -> set[str]:
        """Channels an outbox event already went out on: a retry re-sends only the others."""
        rows = await self.session.scalars(
            select(NotificationDelivery.channel).where(NotificationDelivery.outbox_id == outbox_id)
        )
        return set(rows)

    async def record_sent(
        self,
        *,
        outbox_id: int,
        org_id: uuid.UUID | None,
        channel: str,
        template: str,
        destination: str,
        provider: str,
        message_id: str,
    ) -> None:
        """Note that a channel went out (once per event and channel, a repeat is ignored)."""
        await self.session.execute(
            insert(NotificationDelivery)
            .values(
                outbox_id=outbox_id,
                org_id=org_id,
                channel=channel,
                template=template,
                destination=destination,
                provider=provider,
                provider_message_id=message_id,
            )
            .on_conflict_do_nothing(constraint="uq_notification_deliveries_outbox_channel")
        )

    async def bookings_starting(
        self, after: datetime, until: datetime, statuses: Sequence[str]
    ) -> list[Booking]:
        """Bookings in these statuses starting in (after, until]: the reminder job's candidates."""
        return list(
            await self.session.scalars(
                select(Booking).where(
                    Booking.status.in_(statuses), Booking.window_start > after, Booking.window_start <= until
                )
            )
        )

    async def enqueued_keys(self, keys: Collection[str]) -> set[str]:
        """Which of these idempotency keys the outbox already holds (reminders sent before)."""
        return set(
            await self.session.scalars(
                select(OutboxEvent.idempotency_key).where(OutboxEvent.idempotency_key.in_(keys))
            )
        )
