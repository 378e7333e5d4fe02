"""Outbox handlers that turn events into notifications: notify.*, booking and assignment events."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.notifications.catalog import EVENTS
from dispatch.notifications.context import booking_context
from dispatch.notifications.delivery import Recipient, deliver
from dispatch.notifications.preferences import channels_for, parse_preferences
from persistence.integrations.email import DeliveryFailed
from persistence.integrations.ports import Ports
from persistence.outbox import OutboxItem
from persistence.repositories.fleet import DriverRepository
from persistence.repositories.users import UserRepository
from persistence.session import SYSTEM, tenant_session
from persistence.statuses import BookingStatus


def _uuid(value: Any, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise DeliveryFailed(f"{what} is not a UUID: {value!r}", retryable=False) from exc


async def _user_recipient(
    session: AsyncSession,
    user_id: uuid.UUID,
    template: str,
    *,
    email: str | None = None,
    phone: str | None = None,
) -> Recipient:
    user = await UserRepository(session).get_by_id(user_id)
    if user is None or not user.active:
        return Recipient(email=None, phone=None, channels=())
    preferences = parse_preferences(user.notification_preferences)
    return Recipient(
        email=email or user.email, phone=phone or user.phone, channels=channels_for(preferences, template)
    )


async def _with_booking(session: AsyncSession, context: dict[str, Any]) -> dict[str, Any]:
    """Fill booking, org_name and customer_name from context["booking_id"] unless given."""
    if "booking_id" not in context or "booking" in context:
        return context
    loaded = await booking_context(session, _uuid(context["booking_id"], "booking_id"))
    if loaded is None:
        raise DeliveryFailed(f"booking {context['booking_id']} no longer exists", retryable=False)
    return {**loaded, **context}


async def handle_notify(ports: Ports, item: OutboxItem) -> None:
    """`notify.<event>`: to a user (by preferences) or straight to the given email/phone."""
    template = item.topic.removeprefix("notify.")
    if template not in EVENTS:
        raise DeliveryFailed(f"no template for {item.topic}", retryable=False)
    payload = item.payload
    if template == "otp":
        channel = str(payload.get("channel", ""))
        destination = str(payload.get("destination", ""))
        if channel not in ("email", "sms") or not destination:
            raise DeliveryFailed("notify.otp needs channel (email|sms) and destination", retryable=False)
        recipient = Recipient(
            email=destination if channel == "email" else None,
            phone=destination if channel == "sms" else None,
            channels=(channel,),
        )
        context = {**payload.get("context", {}), "code": payload.get("code", "")}
        await deliver(ports, item, template, recipient, context)
        return
    async with tenant_session(SYSTEM) as session:
        context = await _with_booking(session, dict(payload.get("context") or {}))
        if payload.get("user_id"):
            recipient = await _user_recipient(
                session,
                _uuid(payload["user_id"], "user_id"),
                template,
                email=payload.get("email"),
                phone=payload.get("phone"),
            )
        else:
            recipient = Recipient(email=payload.get("email"), phone=payload.get("phone"))
    await deliver(ports, item, template, recipient, context)


async def handle_booking_status_changed(ports: Ports, item: OutboxItem) -> None:
    """Tell the customer: booking_confirmation when confirmed, booking_update otherwise."""
    payload = item.payload
    confirmed = payload.get("to") == BookingStatus.CONFIRMED
    template = "booking_confirmation" if confirmed else "booking_update"
    async with tenant_session(SYSTEM) as session:
        context = await booking_context(session, _uuid(payload.get("booking_id"), "booking_id"))
        if context is None:
            return
        context["reason"] = payload.get("reason", "")
        recipient = await _user_recipient(session, _uuid(payload.get("customer_id"), "customer_id"), template)
    await deliver(ports, item, template, recipient, context)


async def handle_assignment_created(ports: Ports, item: OutboxItem) -> None:
    """Tell the assigned driver about the job (by their user's preferences, else by SMS)."""
    payload = item.payload
    async with tenant_session(SYSTEM) as session:
        context = await booking_context(session, _uuid(payload.get("booking_id"), "booking_id"))
        driver = await DriverRepository(session).get_by_id(_uuid(payload.get("driver_id"), "driver_id"))
        if context is None or driver is None:
            return
        context["driver_name"] = driver.full_name
        if driver.user_id is not None:
            recipient = await _user_recipient(
                session, driver.user_id, "driver_assignment", phone=driver.phone
            )
        else:
            recipient = Recipient(email=None, phone=driver.phone, channels=("sms",))
    await deliver(ports, item, "driver_assignment", recipient, context)
