"""The email port, its message type, the shared delivery error, and the adapter chooser."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from persistence.config import Settings


class DeliveryFailed(Exception):
    """A provider refused or could not take a message; `retryable` says whether to try again."""

    def __init__(self, detail: str, *, retryable: bool) -> None:
        super().__init__(detail)
        self.retryable = retryable


@dataclass(frozen=True, slots=True)
class EmailMessage:
    to: str
    subject: str
    text: str
    html: str


class EmailPort(Protocol):
    name: str

    async def send(self, message: EmailMessage) -> str:
        """Hand the message to the provider; returns the provider's message id."""
        ...


def retryable_status(status: int) -> bool:
    """Provider HTTP answers worth retrying: throttling and server-side failures."""
    return status == 429 or status >= 500


def email_port(settings: Settings) -> EmailPort:
    """SendGrid when an API key is set, else SMTP when a host is set, else the local log."""
    if settings.sendgrid_api_key:
        from persistence.integrations.email.sendgrid import SendGridEmail

        return SendGridEmail(settings)
    if settings.smtp_host:
        from persistence.integrations.email.smtp import SmtpEmail

        return SmtpEmail(settings)
    from persistence.integrations.email.log import LogEmail

    return LogEmail()
