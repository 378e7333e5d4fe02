"""Notifications end to end: preferences API, real SMTP (aiosmtpd), SendGrid and Twilio through
their official SDKs against local peers, and preferences deciding the channels."""

from __future__ import annotations

import httpx

from persistence.events import read_since
from persistence.integrations.email.log import LogEmail
from persistence.integrations.sms.log import LogSms
from tests.factories import auth_headers, make_booking, make_driver, make_org, make_user
from tests.peers.harness import (  # noqa: F401 - the *_fixture names register fixtures
    deliveries,
    enqueue_event,
    make_worker,
    outbox_row,
    parked_outbox_fixture,
    sendgrid_fixture,
    sendgrid_port,
    smtp_fixture,
    smtp_port,
    twilio_fixture,
    twilio_port,
    unique_phone,
)
from tests.peers.sendgrid_peer import SendGridPeer
from tests.peers.smtp_server import SmtpServer
from tests.peers.twilio_peer import TwilioPeer

URL = "/api/v1/me/notification-preferences"


async def test_preferences_api_round_trip(client: httpx.AsyncClient) -> None:
    user = await make_user()
    headers = auth_headers(user)
    assert (await client.get(URL, headers=headers)).json() == {"email": True, "sms": True, "events": {}}
    wanted = {"email": True, "sms": False, "events": {"booking_reminder": {"email": False, "sms": True}}}
    saved = await client.put(URL, json=wanted, headers=headers)
    assert saved.status_code == 200 and saved.json() == wanted
    assert (await client.get(URL, headers=headers)).json() == wanted
    for bad in (
        {"events": {"otp": {"sms": False}}},
        {"events": {"nope": {}}},
        {"email": "maybe"},
        {"push": True},
    ):
        response = await client.put(URL, json=bad, headers=headers)
        assert response.status_code == 422, bad
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (await client.get(URL, headers=headers)).json() == wanted
    assert (await client.get(URL)).status_code == 401


async def test_booking_confirmation_by_smtp_and_twilio(
    smtp: SmtpServer, twilio: TwilioPeer, parked_outbox: None
) -> None:
    org = await make_org(name="Spree Movers")
    phone = unique_phone()
    customer = await make_user(full_name="Ada Lovelace", phone=phone)
    booking = await make_booking(org, customer)
    event_id = await enqueue_event(
        "notify.booking_confirmation",
        {"user_id": str(customer.id), "context": {"booking_id": str(booking.id)}},
        org.id,
    )

    assert await make_worker(smtp_port(smtp), twilio_port(twilio)).drain_once() >= 1

    assert (await outbox_row(event_id)).status == "delivered"
    [mail] = smtp.mailbox.to(customer.email or "")
    assert "is confirmed" in mail["Subject"]
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "Hello Ada Lovelace" in text and "Spree Movers" in text and "EUR 300.00" in text
    assert booking.id.hex[:8].upper() in html and "<table" in html
    [sms] = [m for m in twilio.messages if m["To"] == phone]
    assert sms["From"] == "+15550000000" and "is confirmed" in sms["Body"]
    sent = await deliveries(event_id)
    assert set(sent) == {"email", "sms"}
    assert sent["sms"].provider == "twilio" and sent["sms"].provider_message_id == sms["sid"]
    assert sent["email"].provider == "smtp" and sent["email"].destination == customer.email


async def test_email_through_sendgrid_sdk(sendgrid: SendGridPeer, parked_outbox: None) -> None:
    event_id = await enqueue_event(
        "notify.invoice_delivery",
        {
            "email": "billing@example.test",
            "context": {
                "invoice_number": "SM-2026-000007",
                "total_cents": 35700,
                "currency": "EUR",
                "download_url": "https://files.test/inv.pdf",
                "org_name": "Spree Movers",
            },
        },
    )

    await make_worker(sendgrid_port(sendgrid), LogSms()).drain_once()

    assert (await outbox_row(event_id)).status == "delivered"
    [mail] = [
        m for m in sendgrid.mails if m["personalizations"][0]["to"][0]["email"] == "billing@example.test"
    ]
    assert mail["subject"] == "Invoice SM-2026-000007 from Spree Movers"
    assert [part["type"] for part in mail["content"]] == ["text/plain", "text/html"]
    assert "EUR 357.00" in mail["content"][0]["value"]
    assert (await deliveries(event_id))["email"].provider == "sendgrid"


async def test_preferences_decide_the_channels(
    smtp: SmtpServer, twilio: TwilioPeer, parked_outbox: None
) -> None:
    org = await make_org()
    phone = unique_phone()
    customer = await make_user(
        phone=phone,
        notification_preferences={
            "email": True,
            "sms": False,
            "events": {"booking_reminder": {"email": False, "sms": True}},
        },
    )
    booking = await make_booking(org, customer)
    confirmation = await enqueue_event(
        "booking.status_changed",
        {
            "booking_id": str(booking.id),
            "from": "pending",
            "to": "confirmed",
            "customer_id": str(customer.id),
        },
        org.id,
    )
    reminder = await enqueue_event(
        "notify.booking_reminder",
        {"user_id": str(customer.id), "context": {"booking_id": str(booking.id)}},
        org.id,
    )
    silent = await make_user(phone=unique_phone(), notification_preferences={"email": False, "sms": False})
    skipped = await enqueue_event(
        "notify.support_ticket_update",
        {
            "user_id": str(silent.id),
            "context": {"ticket_reference": "T-1", "ticket_subject": "x", "status": "open"},
        },
    )

    await make_worker(smtp_port(smtp), twilio_port(twilio)).drain_once()

    assert set(await deliveries(confirmation)) == {"email"}
    assert (await outbox_row(confirmation)).status == "delivered"  # notified and relayed
    streamed = await read_since(org.id, 0) or []
    assert any(
        event.get("type") == "booking.status_changed"
        and event.get("data", {}).get("booking_id") == str(booking.id)
        for _, event in streamed
    )
    assert set(await deliveries(reminder)) == {"sms"}
    assert (await outbox_row(reminder)).status == "delivered"
    assert await deliveries(skipped) == {}
    assert (await outbox_row(skipped)).status == "delivered"
    [mail] = smtp.mailbox.to(customer.email or "")
    assert "is confirmed" in mail["Subject"]
    assert [m["Body"][:17] for m in twilio.messages if m["To"] == phone] == ["MoveHub reminder:"]


async def test_otp_goes_to_the_given_destination(twilio: TwilioPeer, parked_outbox: None) -> None:
    phone = unique_phone()
    event_id = await enqueue_event("notify.otp", {"channel": "sms", "destination": phone, "code": "482913"})
    await make_worker(LogEmail(), twilio_port(twilio)).drain_once()
    [sms] = [m for m in twilio.messages if m["To"] == phone]
    assert sms["Body"].startswith("Your MoveHub code is 482913.")
    assert set(await deliveries(event_id)) == {"sms"}


async def test_driver_hears_about_assignment(twilio: TwilioPeer, parked_outbox: None) -> None:
    org = await make_org()
    phone = unique_phone()
    driver = await make_driver(org, full_name="Kai Brenner", phone=phone)
    booking = await make_booking(org, await make_user())
    event_id = await enqueue_event(
        "notify.driver_assignment",
        {"phone": phone, "context": {"booking_id": str(booking.id), "driver_name": driver.full_name}},
        org.id,
    )
    await make_worker(LogEmail(), twilio_port(twilio)).drain_once()
    [sms] = [m for m in twilio.messages if m["To"] == phone]
    assert sms["Body"].startswith(f"MoveHub: new job {booking.id.hex[:8].upper()}")
    assert (await outbox_row(event_id)).status == "delivered"
