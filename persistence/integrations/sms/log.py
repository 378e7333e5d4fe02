"""The local SMS default: every text goes to the structured log."""

from __future__ import annotations

import uuid

import structlog

from persistence.integrations.sms.port import SmsMessage

log = structlog.get_logger("movehub.sms")


class LogSms:
    name = "log"

    async def send(self, message: SmsMessage) -> str:
        message_id = f"log-{uuid.uuid4().hex}"
        log.info("sms.logged", to=message.to, body=message.body, message_id=message_id)
        return message_id
