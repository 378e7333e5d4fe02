"""Send one rendered event to one recipient on each accepted channel, at most once per channel.

A channel that went out is recorded (notification_deliveries, unique per outbox row and
channel) in its own transaction right away, so a retry of the event after another channel
failed re-sends only what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import structlog

from dispatch.notifications.rendering import MissingContext, render_email, render_sms
from persistence.integrations.email import DeliveryFailed, EmailMessage
from persistence.integrations.ports import Ports
from persistence.integrations.sms import SmsMessage
from persistence.outbox import OutboxItem
from persistence.repositories.notifications import NotificationRepository
from persistence.session import SYSTEM, tenant_session

log = structlog.get_logger("movehub.notifications")


@dataclass(frozen=True, slots=True)
class Recipient:
    email: str | None
    phone: str | None
    channels: tuple[str, ...] = field(default=("email", "sms"))

    def destination(self, channel: str) -> str | None:
        return self.email if channel == "email" else self.phone


async def _already_sent(outbox_id: int) -> set[str]:
    async with tenant_session(SYSTEM) as session:
        return await NotificationRepository(session).channels_sent(outbox_id)


async def _record(
    item: OutboxItem, channel: str, template: str, destination: str, provider: str, message_id: str
) -> None:
    async with tenant_session(SYSTEM) as session:
        await NotificationRepository(session).record_sent(
            outbox_id=item.id,
            org_id=item.org_id,
            channel=channel,
            template=template,
            destination=destination,
            provider=provider,
            message_id=message_id,
        )


async def _send(
    ports: Ports, channel: str, template: str, destination: str, context: dict[str, Any]
) -> tuple[str, str]:
    if channel == "email":
        rendered = render_email(template, context)
        message_id = await ports.email.send(
            EmailMessage(to=destination, subject=rendered.subject, text=rendered.text, html=rendered.html)
        )
        return ports.email.name, message_id
    message_id = await ports.sms.send(SmsMessage(to=destination, body=render_sms(template, context)))
    return ports.sms.name, message_id


async def deliver(
    ports: Ports, item: OutboxItem, template: str, recipient: Recipient, context: dict[str, Any]
) -> list[str]:
    """Send on every accepted channel not sent yet; returns the channels sent now.

    Raises DeliveryFailed (the first failure; retryable if any failure was) after trying
    every channel, so one broken provider does not hold back the other.
    """
    done = await _already_sent(item.id)
    sent: list[str] = []
    failures: list[DeliveryFailed] = []
    for channel in recipient.channels:
        destination = recipient.destination(channel)
        if not destination or channel in done:
            continue
        try:
            provider, message_id = await _send(ports, channel, template, destination, context)
        except MissingContext as exc:
            raise DeliveryFailed(str(exc), retryable=False) from exc
        except DeliveryFailed as exc:
            log.warning(
                "notification.channel_failed",
                outbox_id=item.id,
                channel=channel,
                template=template,
                error=str(exc),
                retryable=exc.retryable,
            )
            failures.append(exc)
            continue
        await _record(item, channel, template, destination, provider, message_id)
        sent.append(channel)
    if failures:
        detail = "; ".join(str(failure) for failure in failures)
        raise DeliveryFailed(detail, retryable=any(failure.retryable for failure in failures))
    if not sent and not done:
        log.info("notification.no_channel", outbox_id=item.id, template=template)
    return sent
