"""The SMS port, its message type and the adapter chooser."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from persistence.config import Settings


@dataclass(frozen=True, slots=True)
class SmsMessage:
    to: str
    body: str


class SmsPort(Protocol):
    name: str

    async def send(self, message: SmsMessage) -> str:
        """Hand the text to the provider; returns the provider's message id."""
        ...


def sms_port(settings: Settings) -> SmsPort:
    """Twilio when an account SID and token are set, else the local log."""
    if settings.twilio_account_sid and settings.twilio_auth_token:
        from persistence.integrations.sms.twilio import TwilioSms

        return TwilioSms(settings)
    from persistence.integrations.sms.log import LogSms

    return LogSms()
