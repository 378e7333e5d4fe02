"""Email over SMTP with aiosmtplib: a multipart text + HTML message per send."""

from __future__ import annotations

import email.message
import email.utils

import aiosmtplib

from persistence.config import Settings
from persistence.integrations.email.port import DeliveryFailed, EmailMessage


class SmtpEmail:
    name = "smtp"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def _mime(self, message: EmailMessage) -> email.message.EmailMessage:
        mime = email.message.EmailMessage()
        mime["From"] = self._settings.email_from
        mime["To"] = message.to
        mime["Subject"] = message.subject
        mime["Message-ID"] = email.utils.make_msgid(domain="movehub")
        mime.set_content(message.text)
        mime.add_alternative(message.html, subtype="html")
        return mime

    async def send(self, message: EmailMessage) -> str:
        settings = self._settings
        mime = self._mime(message)
        try:
            await aiosmtplib.send(
                mime,
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                username=settings.smtp_username or None,
                password=settings.smtp_password or None,
                start_tls=settings.smtp_starttls,
                timeout=settings.notification_timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise DeliveryFailed(f"SMTP refused the recipient: {exc}", retryable=False) from exc
        except aiosmtplib.SMTPResponseException as exc:
            # 5xx replies are permanent in SMTP; 4xx are transient.
            raise DeliveryFailed(f"SMTP {exc.code}: {exc.message}", retryable=exc.code < 500) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise DeliveryFailed(f"SMTP unreachable: {exc}", retryable=True) from exc
        return str(mime["Message-ID"])
