"""Every notification event, its email subject and the context keys its templates need.

Producers enqueue `notify.<event>` with {"user_id"?, "email"?, "phone"?, "context": {...}}.
A context holding "booking_id" but no "booking" is filled in from the database (booking,
org_name, customer_name), so producers of booking events only pass what is new.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

EventName = Literal[
    "booking_confirmation",
    "booking_update",
    "booking_reminder",
    "driver_assignment",
    "cancellation_refund",
    "invoice_delivery",
    "insurance_expiry",
    "support_ticket_update",
    "otp",
    "crew_near",
    "crew_arrived",
]


@dataclass(frozen=True, slots=True)
class EventTemplate:
    subject: str
    required: tuple[str, ...]
    # Transactional messages go out whatever the preferences say (a sign-in code must arrive).
    mandatory: bool = False


_BOOKING = ("booking", "org_name")

EVENTS: dict[str, EventTemplate] = {
    "booking_confirmation": EventTemplate("Your move on {{ booking.window_start }} is confirmed", _BOOKING),
    "booking_update": EventTemplate(
        "Your move {{ booking.reference }} is now {{ booking.status_label }}", _BOOKING
    ),
    "booking_reminder": EventTemplate(
        "Reminder: your move is tomorrow, {{ booking.window_start }}", _BOOKING
    ),
    "driver_assignment": EventTemplate(
        "New job {{ booking.reference }} on {{ booking.window_start }}", (*_BOOKING, "driver_name")
    ),
    "cancellation_refund": EventTemplate(
        "Your move {{ booking.reference }} is cancelled", (*_BOOKING, "refund_cents")
    ),
    "invoice_delivery": EventTemplate(
        "Invoice {{ invoice_number }} from {{ org_name }}",
        ("invoice_number", "total_cents", "currency", "download_url", "org_name"),
    ),
    "insurance_expiry": EventTemplate(
        "Insurance for {{ subject_name }} expires on {{ expires_on }}",
        ("org_name", "subject_name", "document_type", "expires_on", "days_left"),
    ),
    "support_ticket_update": EventTemplate(
        "Support ticket {{ ticket_reference }}: {{ status }}",
        ("ticket_reference", "ticket_subject", "status"),
    ),
    "otp": EventTemplate("Your MoveHub sign-in code", ("code",), mandatory=True),
    # The customer's live view (dispatch/tracking): each once per booking, with a signed link.
    "crew_near": EventTemplate(
        "Your crew is about {{ minutes }} minutes away", (*_BOOKING, "minutes", "tracking_url")
    ),
    "crew_arrived": EventTemplate("Your crew has arrived", (*_BOOKING, "tracking_url")),
}
