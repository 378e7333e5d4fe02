"""Pure sign-in helpers: destination normalisation, keyed digests, codes, schemas' 422s."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from dispatch.auth.credentials import (
    channel_of,
    digest_matches,
    new_otp_code,
    new_refresh_secret,
    normalise_destination,
    normalise_email,
    normalise_phone,
    secret_digest,
)
from dispatch.auth.schemas import OtpRequest, OtpVerify


def test_email_is_lower_cased_and_trimmed() -> None:
    assert normalise_email("  Ada.Lovelace@Example.COM ") == "ada.lovelace@example.com"


@pytest.mark.parametrize("raw", ["", "ada", "ada@", "@example.com", "a b@example.com"])
def test_junk_email_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="email"):
        normalise_email(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+49 30 1234567", "+49301234567"),
        ("+1 (415) 555-0100", "+14155550100"),
        ("0049.30.1234567", "+49301234567"),
    ],
)
def test_phone_becomes_e164(raw: str, expected: str) -> None:
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize(
    "raw", ["030 1234567", "+0301234567", "+49abc123456", "+123", "+1234567890123456", "call me"]
)
def test_junk_phone_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="phone"):
        normalise_phone(raw)


def test_channel_follows_the_at_sign() -> None:
    assert channel_of("ada@example.com") == "email"
    assert channel_of("+4930123456") == "sms"
    assert normalise_destination("ADA@example.com") == "ada@example.com"
    assert normalise_destination("+49 30 123456") == "+4930123456"


def test_digest_is_keyed_and_compares() -> None:
    digest = secret_digest("042917", "key-one")
    assert len(digest) == 64 and digest != "042917"
    assert digest != secret_digest("042917", "key-two")
    assert digest_matches("042917", digest, "key-one")
    assert not digest_matches("042918", digest, "key-one")
    assert not digest_matches("042917", digest, "key-two")


def test_codes_are_six_digits_and_secrets_are_long() -> None:
    codes = {new_otp_code() for _ in range(200)}
    assert all(len(code) == 6 and code.isdigit() for code in codes)
    assert len(codes) > 150
    assert len(new_refresh_secret()) >= 43


def test_request_schema_normalises_and_names_the_bad_field() -> None:
    assert OtpRequest(channel="sms", destination="+49 30 1234567").destination == "+49301234567"
    with pytest.raises(ValidationError) as phone_for_email:
        OtpRequest(channel="email", destination="+4930123456")
    assert phone_for_email.value.errors()[0]["loc"] == ("destination",)
    with pytest.raises(ValidationError) as bad_channel:
        OtpRequest(channel="pigeon", destination="ada@example.com")  # type: ignore[arg-type]
    assert [e["loc"] for e in bad_channel.value.errors()] == [("channel",)]
    with pytest.raises(ValidationError) as short_code:
        OtpVerify(destination="ada@example.com", code="12345")
    assert short_code.value.errors()[0]["loc"] == ("code",)
