"""Every notification event renders (email subject/text/HTML and SMS); preferences pick channels."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from dispatch.notifications.catalog import EVENTS
from dispatch.notifications.preferences import channels_for, parse_preferences
from dispatch.notifications.rendering import MissingContext, money, render_email, render_sms, when
from dispatch.notifications.schemas import NotificationPreferences

BOOKING = {
    "id": "3f0c",
    "reference": "3F0C1A2B",
    "pickup_address": "Alexanderplatz 1",
    "dropoff_address": "Potsdamer Platz 1",
    "window_start": "Mon 07 Dec 2026, 09:00 CET",
    "window_end": "Mon 07 Dec 2026, 13:00 CET",
    "price_cents": 30000,
    "currency": "EUR",
    "status": "en_route",
    "status_label": "en route",
}

CONTEXTS: dict[str, dict[str, Any]] = {
    "booking_confirmation": {"booking": BOOKING, "org_name": "Berlin Movers", "customer_name": "Ada"},
    "booking_update": {"booking": BOOKING, "org_name": "Berlin Movers", "reason": "crew left"},
    "booking_reminder": {"booking": BOOKING, "org_name": "Berlin Movers"},
    "driver_assignment": {"booking": BOOKING, "org_name": "Berlin Movers", "driver_name": "Kai"},
    "cancellation_refund": {"booking": BOOKING, "org_name": "Berlin Movers", "refund_cents": 22500},
    "invoice_delivery": {
        "invoice_number": "BM-2026-000042",
        "total_cents": 35700,
        "currency": "EUR",
        "download_url": "https://files.test/inv.pdf",
        "org_name": "Berlin Movers",
    },
    "insurance_expiry": {
        "org_name": "Berlin Movers",
        "subject_name": "Truck B-MH 123",
        "document_type": "liability insurance",
        "expires_on": "2026-12-31",
        "days_left": 14,
    },
    "support_ticket_update": {
        "ticket_reference": "T-1001",
        "ticket_subject": "Broken lamp",
        "status": "resolved",
        "message": "We refunded the lamp.",
    },
    "otp": {"code": "482913"},
    "crew_near": {
        "booking": BOOKING,
        "org_name": "Berlin Movers",
        "minutes": 9,
        "tracking_url": "https://movehub.test/track/3f0c?t=1.a.b",
        "driver_name": "Kai",
    },
    "crew_arrived": {
        "booking": BOOKING,
        "org_name": "Berlin Movers",
        "tracking_url": "https://movehub.test/track/3f0c?t=1.a.b",
    },
}


def test_every_event_has_a_sample_context() -> None:
    assert set(CONTEXTS) == set(EVENTS)


@pytest.mark.parametrize("event", sorted(EVENTS))
def test_every_event_renders_email_and_sms(event: str) -> None:
    email = render_email(event, CONTEXTS[event])
    sms = render_sms(event, CONTEXTS[event])
    assert email.subject and "\n" not in email.subject and "{{" not in email.subject
    assert email.text.strip() and "{{" not in email.text and "{%" not in email.text
    assert email.html.startswith("<!doctype html>") and "</html>" in email.html
    assert sms and "\n" not in sms and len(sms) <= 320


def test_booking_messages_carry_the_booking_facts() -> None:
    email = render_email("booking_confirmation", CONTEXTS["booking_confirmation"])
    assert "3F0C1A2B" in email.text and "EUR 300.00" in email.text and "Hello Ada" in email.text
    assert "Potsdamer Platz 1" in email.html
    assert render_sms("cancellation_refund", CONTEXTS["cancellation_refund"]).endswith(
        "Refund of EUR 225.00 is on its way."
    )
    no_refund = {**CONTEXTS["cancellation_refund"], "refund_cents": 0}
    assert "no refund is due" in render_email("cancellation_refund", no_refund).text
    assert render_sms("otp", {"code": "123456"}).startswith("Your MoveHub code is 123456.")


def test_html_is_escaped_and_text_is_not() -> None:
    context = {**CONTEXTS["support_ticket_update"], "message": "<script>x</script> & more"}
    email = render_email("support_ticket_update", context)
    assert "<script>" not in email.html and "&lt;script&gt;" in email.html
    assert "<script>x</script> & more" in email.text


def test_missing_context_is_refused_by_name() -> None:
    with pytest.raises(MissingContext, match="refund_cents"):
        render_email("cancellation_refund", {"booking": BOOKING, "org_name": "X"})
    with pytest.raises(MissingContext, match="unknown"):
        render_sms("parcel_lost", {})


def test_filters() -> None:
    assert money(123456, "EUR") == "EUR 1,234.56"
    assert money(-5, "USD") == "USD -0.05"
    assert when(datetime(2026, 12, 7, 9, 0, tzinfo=UTC)) == "Mon 07 Dec 2026, 09:00 UTC"
    assert when("2026-12-07T09:00:00+00:00") == "Mon 07 Dec 2026, 09:00 UTC"


def test_preferences_default_to_every_channel() -> None:
    assert channels_for(parse_preferences({}), "booking_update") == ("email", "sms")
    assert channels_for(parse_preferences({"garbage": 1}), "booking_update") == ("email", "sms")


def test_preferences_global_and_per_event() -> None:
    preferences = NotificationPreferences.model_validate(
        {"email": True, "sms": False, "events": {"booking_reminder": {"email": False, "sms": True}}}
    )
    assert channels_for(preferences, "booking_update") == ("email",)
    assert channels_for(preferences, "booking_reminder") == ("sms",)
    silent = NotificationPreferences(email=False, sms=False)
    assert channels_for(silent, "invoice_delivery") == ()
    assert channels_for(silent, "otp") == ("email", "sms")


def test_preferences_refuse_unknown_and_mandatory_events() -> None:
    with pytest.raises(ValueError, match="parcel_lost"):
        NotificationPreferences.model_validate({"events": {"parcel_lost": {"email": False}}})
    with pytest.raises(ValueError, match="otp"):
        NotificationPreferences.model_validate({"events": {"otp": {"sms": False}}})
