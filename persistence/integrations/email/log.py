"""The local email default: every message goes to the structured log instead of a mailbox."""

from __future__ import annotations

import uuid

import structlog

from persistence.integrations.email.port import EmailMessage

log = structlog.get_logger("movehub.email")


class LogEmail:
    name = "log"

    async def send(self, message: EmailMessage) -> str:
        message_id = f"log-{uuid.uuid4().hex}"
        log.info(
            "email.logged", to=message.to, subject=message.subject, text=message.text, message_id=message_id
        )
        return message_id
