"""Email port: a local log by default, SMTP (aiosmtplib) or SendGrid when configured."""

from persistence.integrations.email.port import DeliveryFailed, EmailMessage, EmailPort, email_port

__all__ = ["DeliveryFailed", "EmailMessage", "EmailPort", "email_port"]
