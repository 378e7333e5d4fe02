"""Pure sign-in helpers: normalised destinations, keyed digests of secrets, fresh codes."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Literal

from email_validator import EmailNotValidError, validate_email

Channel = Literal["sms", "email"]
OTP_DIGITS = 6
_PHONE_SEPARATORS = re.compile(r"[\s().\-/]")
_E164 = re.compile(r"\+[1-9]\d{6,14}")


def normalise_email(raw: str) -> str:
    """A syntactically valid address, lower-cased whole (we treat addresses case-blind)."""
    candidate = raw.strip()
    try:
        checked = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from exc
    return checked.normalized.lower()


def normalise_phone(raw: str) -> str:
    """E.164-ish: a leading + (or 00) and 7 to 15 digits; spaces, dashes, dots and () dropped."""
    compact = _PHONE_SEPARATORS.sub("", raw.strip())
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not _E164.fullmatch(compact):
        raise ValueError("not a valid phone number: use international form, e.g. +4930123456")
    return compact


def channel_of(destination: str) -> Channel:
    """Which channel a destination belongs to: addresses carry an @, phone numbers never do."""
    return "email" if "@" in destination else "sms"


def normalise_destination(raw: str, channel: Channel | None = None) -> str:
    """The canonical form of an email address or phone number (channel guessed if not given)."""
    channel = channel or channel_of(raw)
    return normalise_email(raw) if channel == "email" else normalise_phone(raw)


def secret_digest(secret: str, key: str) -> str:
    """HMAC-SHA256 of a secret under the server key: a stolen table does not reveal codes."""
    return hmac.new(key.encode(), secret.encode(), hashlib.sha256).hexdigest()


def digest_matches(secret: str, digest: str, key: str) -> bool:
    """Constant-time comparison of a presented secret with a stored digest."""
    return hmac.compare_digest(secret_digest(secret, key), digest)


def new_otp_code() -> str:
    """Six random digits from the OS CSPRNG (leading zeros kept)."""
    return f"{secrets.randbelow(10**OTP_DIGITS):0{OTP_DIGITS}d}"


def new_refresh_secret() -> str:
    """32 random bytes, URL-safe: the opaque refresh token the client keeps."""
    return secrets.token_urlsafe(32)


def new_csrf_secret() -> str:
    """The double-submit value a browser echoes in X-CSRF-Token."""
    return secrets.token_urlsafe(24)
