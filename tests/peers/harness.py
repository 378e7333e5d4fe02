"""Fixtures and helpers shared by the notification and outbox tests: peers, workers, rows."""

from __future__ import annotations

import dataclasses
import random
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, text, update

from actors.outbox import OutboxWorker
from persistence.config import Settings, get_settings
from persistence.integrations.email.port import EmailPort
from persistence.integrations.email.sendgrid import SendGridEmail
from persistence.integrations.email.smtp import SmtpEmail
from persistence.integrations.payments import PaymentsPort
from persistence.integrations.ports import build_ports
from persistence.integrations.sms.port import SmsPort
from persistence.integrations.sms.twilio import TwilioSms
from persistence.models import NotificationDelivery, OutboxEvent
from persistence.outbox import enqueue
from persistence.session import SYSTEM, tenant_session
from tests.peers.sendgrid_peer import SendGridPeer
from tests.peers.smtp_server import SmtpServer
from tests.peers.twilio_peer import TwilioPeer


@pytest.fixture(name="smtp")
def smtp_fixture() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(name="twilio")
def twilio_fixture() -> Iterator[TwilioPeer]:
    peer = TwilioPeer().start()
    yield peer
    peer.stop()


@pytest.fixture(name="sendgrid")
def sendgrid_fixture() -> Iterator[SendGridPeer]:
    peer = SendGridPeer().start()
    yield peer
    peer.stop()


@pytest.fixture(name="parked_outbox")
async def parked_outbox_fixture(database: str) -> None:
    """Rows other tests left pending wait forever, so this test's worker sees only its own."""
    async with tenant_session(SYSTEM) as session:
        await session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.status == "pending")
            .values(next_attempt_at=text("'infinity'::timestamptz"))
        )


def settings_with(**overrides: Any) -> Settings:
    return get_settings().model_copy(update=overrides)


def smtp_port(server: SmtpServer, **overrides: Any) -> EmailPort:
    return SmtpEmail(settings_with(smtp_host="127.0.0.1", smtp_port=server.port, **overrides))


def sendgrid_port(peer: SendGridPeer) -> EmailPort:
    return SendGridEmail(settings_with(sendgrid_api_key=peer.api_key, sendgrid_api_base=peer.base_url))


def twilio_port(peer: TwilioPeer) -> SmsPort:
    return TwilioSms(
        settings_with(
            twilio_account_sid=peer.account_sid,
            twilio_auth_token=peer.auth_token,
            twilio_api_base=peer.base_url,
        )
    )


def make_worker(
    email: EmailPort, sms: SmsPort, payments: PaymentsPort | None = None, **overrides: Any
) -> OutboxWorker:
    """A worker with the app's ports but these email/SMS (and payments) peers."""
    settings = settings_with(**overrides)
    ports = dataclasses.replace(build_ports(settings), email=email, sms=sms)
    if payments is not None:
        ports = dataclasses.replace(ports, payments=payments)
    return OutboxWorker(settings, ports=ports, rng=random.Random(42))


async def enqueue_event(topic: str, payload: dict[str, Any], org_id: uuid.UUID | None = None) -> int:
    key = f"test:{topic}:{uuid.uuid4()}"
    async with tenant_session(SYSTEM) as session:
        await enqueue(session, topic, payload, idempotency_key=key, org_id=org_id)
        event_id = await session.scalar(select(OutboxEvent.id).where(OutboxEvent.idempotency_key == key))
    assert event_id is not None
    return event_id


async def outbox_row(event_id: int) -> OutboxEvent:
    async with tenant_session(SYSTEM) as session:
        return await session.get_one(OutboxEvent, event_id)


async def deliveries(event_id: int) -> dict[str, NotificationDelivery]:
    async with tenant_session(SYSTEM) as session:
        rows = await session.scalars(
            select(NotificationDelivery).where(NotificationDelivery.outbox_id == event_id)
        )
        return {row.channel: row for row in rows}


def unique_phone() -> str:
    return "+1555" + str(uuid.uuid4().int)[:7]
