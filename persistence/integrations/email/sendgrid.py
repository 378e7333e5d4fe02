"""Email through SendGrid's official SDK (v3 mail/send); the API host is configurable for tests."""

from __future__ import annotations

import asyncio
import urllib.error

from python_http_client import exceptions as http_errors
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Content, Email, Mail, To

from persistence.config import Settings
from persistence.integrations.email.port import DeliveryFailed, EmailMessage, retryable_status


class SendGridEmail:
    name = "sendgrid"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        host = settings.sendgrid_api_base or "https://api.sendgrid.com"
        self._client = SendGridAPIClient(api_key=settings.sendgrid_api_key, host=host)

    def _mail(self, message: EmailMessage) -> Mail:
        mail = Mail(
            from_email=Email(self._settings.email_from), to_emails=To(message.to), subject=message.subject
        )
        mail.add_content(Content("text/plain", message.text))
        mail.add_content(Content("text/html", message.html))
        return mail

    def _send_blocking(self, message: EmailMessage) -> str:
        try:
            response = self._client.client.mail.send.post(
                request_body=self._mail(message).get(),
                timeout=self._settings.notification_timeout_s,
            )
        except http_errors.HTTPError as exc:
            raise DeliveryFailed(
                f"SendGrid {exc.status_code}: {exc.body!r}", retryable=retryable_status(exc.status_code)
            ) from exc
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            raise DeliveryFailed(f"SendGrid unreachable: {exc}", retryable=True) from exc
        headers = {key.lower(): value for key, value in response.headers.items()}
        return str(headers.get("x-message-id", ""))

    async def send(self, message: EmailMessage) -> str:
        return await asyncio.to_thread(self._send_blocking, message)
