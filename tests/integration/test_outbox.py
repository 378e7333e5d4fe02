"""The outbox worker: backoff with jitter, dead letters, partial re-sends, SKIP LOCKED between
workers, unknown topics, the reminder job, and the NOTIFY-woken loop."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from actors.jobs import JOBS
from actors.outbox import start_outbox_worker
from actors.runtime import init_ray
from dispatch.notifications.scheduled import enqueue_booking_reminders, reminder_key
from persistence.config import get_settings
from persistence.integrations.email.log import LogEmail
from persistence.integrations.sms.log import LogSms
from persistence.models import Booking, OutboxEvent
from persistence.session import SYSTEM, tenant_session
from tests.factories import make_booking, make_org, make_user
from tests.peers.harness import (  # noqa: F401 - the *_fixture names register fixtures
    deliveries,
    enqueue_event,
    make_worker,
    outbox_row,
    parked_outbox_fixture,
    settings_with,
    smtp_fixture,
    smtp_port,
    twilio_fixture,
    twilio_port,
    unique_phone,
)
from tests.peers.smtp_server import SmtpServer
from tests.peers.twilio_peer import TwilioPeer


def otp_sms(phone: str) -> dict[str, str]:
    return {"channel": "sms", "destination": phone, "code": "123456"}


async def test_failing_peer_backs_off_then_dead_letters(twilio: TwilioPeer, parked_outbox: None) -> None:
    phone = unique_phone()
    twilio.fail_next = [500, 503, 500]
    worker = make_worker(
        LogEmail(),
        twilio_port(twilio),
        outbox_max_attempts=3,
        outbox_backoff_base_s=10,
        outbox_backoff_max_s=600,
    )
    event_id = await enqueue_event("notify.otp", otp_sms(phone))
    now = datetime.now(UTC) + timedelta(seconds=1)

    await worker.drain_once(now)
    row = await outbox_row(event_id)
    assert (row.status, row.attempts) == ("pending", 1) and "Twilio 500" in (row.last_error or "")
    assert now + timedelta(seconds=5) <= row.next_attempt_at <= now + timedelta(seconds=10)

    await worker.drain_once(now + timedelta(seconds=4))  # not due yet: untouched
    assert (await outbox_row(event_id)).attempts == 1

    second = row.next_attempt_at
    await worker.drain_once(second)
    row = await outbox_row(event_id)
    assert (row.status, row.attempts) == ("pending", 2)
    assert second + timedelta(seconds=10) <= row.next_attempt_at <= second + timedelta(seconds=20)

    await worker.drain_once(row.next_attempt_at)
    row = await outbox_row(event_id)
    assert (row.status, row.attempts) == ("dead", 3) and "Twilio 500" in (row.last_error or "")
    await worker.drain_once(row.next_attempt_at + timedelta(days=1))
    assert (await outbox_row(event_id)).attempts == 3  # the dead stay dead
    assert twilio.messages == [] and await deliveries(event_id) == {}


async def test_throttled_send_succeeds_on_retry_exactly_once(twilio: TwilioPeer, parked_outbox: None) -> None:
    phone = unique_phone()
    twilio.fail_next = [429]
    worker = make_worker(LogEmail(), twilio_port(twilio))
    event_id = await enqueue_event("notify.otp", otp_sms(phone))
    now = datetime.now(UTC) + timedelta(seconds=1)
    await worker.drain_once(now)
    row = await outbox_row(event_id)
    assert row.status == "pending" and "429" in (row.last_error or "")
    await worker.drain_once(row.next_attempt_at)
    row = await outbox_row(event_id)
    assert (row.status, row.attempts, row.last_error) == ("delivered", 2, None)
    assert [m["To"] for m in twilio.messages] == [phone]


async def test_permanent_refusal_is_dead_at_once(twilio: TwilioPeer, parked_outbox: None) -> None:
    twilio.fail_next = [400]
    event_id = await enqueue_event("notify.otp", otp_sms(unique_phone()))
    await make_worker(LogEmail(), twilio_port(twilio)).drain_once()
    row = await outbox_row(event_id)
    assert (row.status, row.attempts) == ("dead", 1) and "Twilio 400" in (row.last_error or "")


async def test_retry_resends_only_the_channel_that_failed(
    smtp: SmtpServer, twilio: TwilioPeer, parked_outbox: None
) -> None:
    phone = unique_phone()
    customer = await make_user(phone=phone)
    twilio.fail_next = [503]
    smtp.mailbox.refuse_next = []
    worker = make_worker(smtp_port(smtp), twilio_port(twilio))
    event_id = await enqueue_event(
        "notify.support_ticket_update",
        {
            "user_id": str(customer.id),
            "context": {
                "ticket_reference": "T-7",
                "ticket_subject": "Scratched table",
                "status": "answered",
                "message": "We will send a carpenter.",
            },
        },
    )
    now = datetime.now(UTC) + timedelta(seconds=1)
    await worker.drain_once(now)
    assert set(await deliveries(event_id)) == {"email"}
    await worker.drain_once((await outbox_row(event_id)).next_attempt_at)
    assert (await outbox_row(event_id)).status == "delivered"
    assert set(await deliveries(event_id)) == {"email", "sms"}
    assert len(smtp.mailbox.to(customer.email or "")) == 1
    assert [m["To"] for m in twilio.messages].count(phone) == 1


async def test_smtp_transient_then_permanent_refusals(smtp: SmtpServer, parked_outbox: None) -> None:
    smtp.mailbox.refuse_next = ["451 4.3.0 mailbox busy", "550 5.1.1 no such user"]
    worker = make_worker(smtp_port(smtp), LogSms())
    event_id = await enqueue_event(
        "notify.otp", {"channel": "email", "destination": "gone@example.test", "code": "777777"}
    )
    now = datetime.now(UTC) + timedelta(seconds=1)
    await worker.drain_once(now)
    row = await outbox_row(event_id)
    assert row.status == "pending" and "SMTP 451" in (row.last_error or "")
    await worker.drain_once(row.next_attempt_at)
    row = await outbox_row(event_id)
    assert (row.status, row.attempts) == ("dead", 2) and "SMTP 550" in (row.last_error or "")


async def test_two_workers_never_take_the_same_row(twilio: TwilioPeer, parked_outbox: None) -> None:
    phones = [unique_phone() for _ in range(12)]
    ids = [await enqueue_event("notify.otp", otp_sms(phone)) for phone in phones]
    workers = [make_worker(LogEmail(), twilio_port(twilio), outbox_batch_size=3) for _ in range(3)]
    for _ in range(6):
        await asyncio.gather(*(worker.drain_once() for worker in workers))
    assert sorted(m["To"] for m in twilio.messages) == sorted(phones)
    for event_id in ids:
        row = await outbox_row(event_id)
        assert (row.status, row.attempts) == ("delivered", 1)


async def test_unknown_topics_dead_alerts_delivered_bad_payloads_dead(parked_outbox: None) -> None:
    worker = make_worker(LogEmail(), LogSms())
    unknown = await enqueue_event("parcel.lost", {"x": 1})
    alert = await enqueue_event("alert.refund_dead", {"refund_id": "r-1"})
    missing = await enqueue_event(
        "notify.invoice_delivery", {"email": "a@example.test", "context": {"org_name": "X"}}
    )
    await worker.drain_once()
    assert (await outbox_row(unknown)).status == "dead"
    assert (await outbox_row(alert)).status == "delivered"
    row = await outbox_row(missing)
    assert row.status == "dead" and "invoice_number" in (row.last_error or "")


async def test_booking_reminder_job_enqueues_once_per_booking(parked_outbox: None) -> None:
    org = await make_org()
    customer = await make_user()
    now = datetime.now(UTC).replace(microsecond=0) + timedelta(days=400)
    soon = await make_booking(org, customer, start=now + timedelta(hours=20))
    await make_booking(org, customer, start=now + timedelta(hours=30))
    await make_booking(org, customer, start=now + timedelta(hours=10), status="cancelled")

    async def reminded() -> list[str]:  # this org's reminders only: the job scans every org
        async with tenant_session(SYSTEM) as session:
            return list(
                await session.scalars(
                    select(OutboxEvent.idempotency_key)
                    .where(OutboxEvent.topic == "notify.booking_reminder", OutboxEvent.org_id == org.id)
                    .order_by(OutboxEvent.id)
                )
            )

    await enqueue_booking_reminders(now, get_settings())
    await enqueue_booking_reminders(now + timedelta(minutes=5), get_settings())
    assert await reminded() == [reminder_key(soon)]  # the one due, once; not the cancelled one
    async with tenant_session(SYSTEM) as session:
        booking = await session.get_one(Booking, soon.id)
        booking.window_start += timedelta(hours=1)
        booking.window_end += timedelta(hours=1)
    # Through the scheduler's job (settings from its caller): rescheduled, a fresh reminder.
    [job] = [job for job in JOBS if job.name == "booking_reminders"]
    await job.run(now)
    moved = Booking(id=soon.id, window_start=soon.window_start + timedelta(hours=1))
    assert await reminded() == [reminder_key(soon), reminder_key(moved)]


async def test_loop_wakes_on_notify_and_stops(parked_outbox: None) -> None:
    handle = await start_outbox_worker(settings_with(ray_enabled=False, outbox_poll_interval_s=30.0))
    try:
        await asyncio.sleep(1.0)  # let the loop finish its first pass and go to sleep
        event_id = await enqueue_event(
            "notify.otp", {"channel": "email", "destination": "loop@example.test", "code": "424242"}
        )
        for _ in range(100):
            if (await outbox_row(event_id)).status == "delivered":
                break
            await asyncio.sleep(0.1)
        assert (await outbox_row(event_id)).status == "delivered"
        assert (await deliveries(event_id))["email"].provider == "log"
    finally:
        await handle.close()


@pytest.mark.ray
async def test_ray_actor_delivers(parked_outbox: None) -> None:
    settings = settings_with(ray_enabled=True)
    await asyncio.to_thread(init_ray, settings)
    handle = await start_outbox_worker(settings)
    try:
        event_id = await enqueue_event(
            "notify.otp", {"channel": "email", "destination": "ray@example.test", "code": "515151"}
        )
        for _ in range(300):
            if (await outbox_row(event_id)).status == "delivered":
                break
            await asyncio.sleep(0.1)
        assert (await outbox_row(event_id)).status == "delivered"
    finally:
        await handle.close()
