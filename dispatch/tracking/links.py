"""Signed, short-lived tracking links: `/track/{booking_id}?t=<token>` opens one booking's
tracking page for its customer without a sign-in (the link is what the notification carries).

token = "<expires epoch s>.<customer uuid hex>.<HMAC-SHA256 hex>" over
"track:<booking id>:<customer id>:<expires>" keyed with the digest secret, so a token names
one booking and one customer and cannot be moved to another booking or stretched in time.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass


class BadLink(Exception):
    """Forged, mangled or expired: the caller is told only that the link is not valid."""


@dataclass(frozen=True, slots=True)
class TrackingGrant:
    booking_id: uuid.UUID
    customer_id: uuid.UUID
    expires: int


def _signature(secret: str, booking_id: uuid.UUID, customer_id: uuid.UUID, expires: int) -> str:
    message = f"track:{booking_id}:{customer_id}:{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, booking_id: uuid.UUID, customer_id: uuid.UUID, expires: int) -> str:
    return f"{expires}.{customer_id.hex}.{_signature(secret, booking_id, customer_id, expires)}"


def verify(secret: str, booking_id: uuid.UUID, token: str, now: float) -> TrackingGrant:
    """The grant a token gives for this booking, or BadLink."""
    try:
        expires_text, customer_hex, signature = token.split(".")
        expires, customer_id = int(expires_text), uuid.UUID(hex=customer_hex)
    except ValueError as exc:
        raise BadLink("not a tracking link") from exc
    expected = _signature(secret, booking_id, customer_id, expires)
    if not hmac.compare_digest(expected, signature):
        raise BadLink("not a tracking link for this booking")
    if expires <= now:
        raise BadLink("the tracking link has expired")
    return TrackingGrant(booking_id, customer_id, expires)


def tracking_url(
    base_url: str, secret: str, booking_id: uuid.UUID, customer_id: uuid.UUID, expires: int
) -> str:
    token = sign(secret, booking_id, customer_id, expires)
    return f"{base_url.rstrip('/')}/track/{booking_id}?t={token}"
