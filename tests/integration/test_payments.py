"""Paying through the API (local ledger) and Stripe webhooks: signatures, tolerance, dedup,
out-of-order delivery, and a refund the provider fails after accepting it."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from dispatch.payments.service import start_payment
from dispatch.refunds.rules import ReasonCode
from dispatch.refunds.service import cancel
from persistence.config import get_settings
from persistence.integrations.email.log import LogEmail
from persistence.integrations.payments.port import IntentResult, RefundResult
from persistence.integrations.payments.stripe_gateway import StripeGateway
from persistence.integrations.sms.log import LogSms
from persistence.models import Booking, Payment, PaymentEvent, Refund
from persistence.session import SYSTEM, tenant_session
from tests.factories import auth_headers, caller_for, make_booking, make_org, make_user
from tests.integration.transaction_probe import (
    NoTransactionProbe,
    assert_probe_sees_an_open_transaction,
)
from tests.peers.harness import make_worker, parked_outbox_fixture  # noqa: F401 - fixture
from tests.peers.stripe_peer import StripePeer, signed_event

WEBHOOK = "/api/v1/payments/stripe/webhook"


@pytest.fixture
def peer() -> Iterator[StripePeer]:
    stripe_peer = StripePeer().start()
    yield stripe_peer
    stripe_peer.stop()


def _event(kind: str, obj: dict[str, Any], created: int | None = None) -> dict[str, Any]:
    return {
        "id": f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "type": kind,
        "created": created or int(time.time()),
        "data": {"object": obj},
    }


async def _post(
    client: httpx.AsyncClient,
    event: dict[str, Any],
    *,
    secret: str | None = None,
    timestamp: int | None = None,
) -> httpx.Response:
    body, signature = signed_event(secret or get_settings().stripe_webhook_secret, event, timestamp)
    return await client.post(
        WEBHOOK, content=body, headers={"Stripe-Signature": signature, "content-type": "application/json"}
    )


async def _stripe_payment(peer: StripePeer) -> tuple[Any, Payment]:
    org, user = await make_org(), await make_user("customer")
    customer = caller_for(user)
    booking = await make_booking(org, user, status="confirmed", price_cents=25_000)
    payment = await start_payment(customer, booking.id, StripeGateway("sk_test_peer", peer.base_url))
    assert payment.status == "requires_payment" and payment.client_secret
    return customer, payment


async def _payment(payment_id: uuid.UUID) -> Payment:
    async with tenant_session(SYSTEM) as session:
        stored = await session.get(Payment, payment_id)
    assert stored is not None
    return stored


async def test_pay_with_local_ledger(client: httpx.AsyncClient) -> None:
    org, customer = await make_org(), await make_user("customer")
    booking = await make_booking(org, customer, price_cents=18_000)
    paid = await client.post(f"/api/v1/bookings/{booking.id}/payments", headers=auth_headers(customer))
    assert paid.status_code == 201, paid.text
    assert paid.json()["status"] == "succeeded" and paid.json()["amount_cents"] == 18_000
    again = await client.post(f"/api/v1/bookings/{booking.id}/payments", headers=auth_headers(customer))
    assert again.status_code == 409
    stranger = await make_user("customer")
    assert (
        await client.post(f"/api/v1/bookings/{booking.id}/payments", headers=auth_headers(stranger))
    ).status_code == 404


async def test_webhook_succeeds_once_and_never_regresses(client: httpx.AsyncClient, peer: StripePeer) -> None:
    _, payment = await _stripe_payment(peer)
    now = int(time.time())
    succeeded = _event("payment_intent.succeeded", {"id": payment.provider_payment_id}, now)
    first = await _post(client, succeeded)
    assert first.status_code == 200 and first.json() == {"received": True, "duplicate": False}
    duplicate = await _post(client, succeeded)
    assert duplicate.json()["duplicate"] is True
    older_failure = _event("payment_intent.payment_failed", {"id": payment.provider_payment_id}, now - 60)
    assert (await _post(client, older_failure)).status_code == 200
    assert (await _payment(payment.id)).status == "succeeded"


async def test_out_of_order_failure_then_success(client: httpx.AsyncClient, peer: StripePeer) -> None:
    _, payment = await _stripe_payment(peer)
    now = int(time.time())
    await _post(client, _event("payment_intent.succeeded", {"id": payment.provider_payment_id}, now))
    await _post(client, _event("payment_intent.payment_failed", {"id": payment.provider_payment_id}, now + 5))
    assert (await _payment(payment.id)).status == "succeeded"


async def test_forged_and_stale_webhooks_have_no_effect(client: httpx.AsyncClient, peer: StripePeer) -> None:
    _, payment = await _stripe_payment(peer)
    event = _event("payment_intent.succeeded", {"id": payment.provider_payment_id})
    forged = await _post(client, event, secret="whsec_attacker")
    assert forged.status_code == 400
    assert forged.headers["content-type"] == "application/problem+json"
    stale = await _post(client, event, timestamp=int(time.time()) - 3600)
    assert stale.status_code == 400
    unsigned = await client.post(WEBHOOK, json=event)
    assert unsigned.status_code == 400
    async with tenant_session(SYSTEM) as session:
        seen = await session.scalar(
            select(func.count()).select_from(PaymentEvent).where(PaymentEvent.id == event["id"])
        )
    assert seen == 0 and (await _payment(payment.id)).status == "requires_payment"


async def test_refund_failing_later_is_retried_with_a_new_key(
    client: httpx.AsyncClient, peer: StripePeer, parked_outbox: None
) -> None:
    customer, payment = await _stripe_payment(peer)
    await _post(client, _event("payment_intent.succeeded", {"id": payment.provider_payment_id}))
    async with tenant_session(customer) as session:
        _, refund = await cancel(session, payment.booking_id, customer, ReasonCode.CHANGE_OF_PLANS, "")
    assert refund is not None
    worker = make_worker(LogEmail(), LogSms(), payments=StripeGateway("sk_test_peer", peer.base_url))
    await worker.drain_once()
    async with tenant_session(SYSTEM) as session:
        first = await session.get(Refund, refund.id)
    assert first is not None and first.status == "succeeded" and first.provider_refund_id
    failed_later = _event("refund.updated", {"id": first.provider_refund_id, "status": "failed"})
    assert (await _post(client, failed_later)).status_code == 200
    async with tenant_session(SYSTEM) as session:
        reopened = await session.get(Refund, refund.id)
    assert reopened is not None and reopened.status == "failed"
    assert reopened.key_generation == 1
    await worker.drain_once()  # the webhook queued a new send, with the new key
    async with tenant_session(SYSTEM) as session:
        resent = await session.get(Refund, refund.id)
    assert resent is not None and resent.status == "succeeded"
    assert resent.provider_refund_id not in (None, first.provider_refund_id)
    assert len(peer.refunds) == 2  # the failed one and its replacement
    keys = [r.headers.get("Idempotency-Key") for r in peer.requests if r.path.startswith("/v1/refunds")]
    assert len(set(keys)) == 2


class LockProbe:
    """A provider that, while it is being asked for an intent, checks from another transaction
    that nobody holds the booking's row lock (NOWAIT fails at once if someone does)."""

    name = "probe"

    def __init__(self, booking_id: uuid.UUID) -> None:
        self.booking_id, self.keys = booking_id, []  # type: list[str]

    async def create_intent(
        self, amount_cents: int, currency: str, idempotency_key: str, metadata: dict[str, str]
    ) -> IntentResult:
        async with tenant_session(SYSTEM) as session:
            await session.scalar(
                select(Booking.id).where(Booking.id == self.booking_id).with_for_update(nowait=True)
            )
        self.keys.append(idempotency_key)
        return IntentResult(f"pi_probe_{idempotency_key}", "requires_payment", "secret")

    async def refund(self, provider_payment_id: str, amount_cents: int, idempotency_key: str) -> RefundResult:
        raise NotImplementedError


async def test_provider_is_asked_without_the_booking_locked_and_once_per_attempt() -> None:
    org, user = await make_org(), await make_user("customer")
    customer = caller_for(user)
    booking = await make_booking(org, user, status="confirmed", price_cents=12_000)
    probe = LockProbe(booking.id)
    payment = await start_payment(customer, booking.id, probe)  # type: ignore[arg-type]
    again = await start_payment(customer, booking.id, probe)  # type: ignore[arg-type]
    assert again.id == payment.id and payment.provider_payment_id == f"pi_probe_{probe.keys[0]}"
    assert probe.keys == [f"movehub-payment-{booking.id}-0"]  # the open attempt is reused


async def test_concurrent_starts_record_one_payment(peer: StripePeer) -> None:
    org, user = await make_org(), await make_user("customer")
    customer = caller_for(user)
    booking = await make_booking(org, user, status="confirmed", price_cents=9_000)
    gateway = StripeGateway("sk_test_peer", peer.base_url)

    async def start() -> Payment:
        return await start_payment(customer, booking.id, gateway)

    payments = await asyncio.gather(*(start() for _ in range(4)))
    assert len({p.id for p in payments}) == 1
    assert len({p.provider_payment_id for p in payments}) == 1
    assert len(peer.intents) == 1  # one key for the attempt: the provider made one intent
    async with tenant_session(SYSTEM) as session:
        rows = await session.scalar(
            select(func.count()).select_from(Payment).where(Payment.booking_id == booking.id)
        )
    assert rows == 1


@contextmanager
def payments_port(app: FastAPI, port: Any) -> Iterator[None]:
    """The app's payments port replaced for one test."""
    previous = app.state.ports
    app.state.ports = dataclasses.replace(previous, payments=port)
    try:
        yield
    finally:
        app.state.ports = previous


async def test_no_transaction_is_open_while_stripe_is_asked(
    app: FastAPI, client: httpx.AsyncClient, peer: StripePeer
) -> None:
    await assert_probe_sees_an_open_transaction()
    org, user = await make_org(), await make_user("customer")
    booking = await make_booking(org, user, status="confirmed", price_cents=14_000)
    probe = NoTransactionProbe(StripeGateway("sk_test_peer", peer.base_url))
    with payments_port(app, probe):
        started = await client.post(f"/api/v1/bookings/{booking.id}/payments", headers=auth_headers(user))
    assert started.status_code == 201, started.text
    assert probe.seen == [[]]  # asked once, with no transaction of ours open meanwhile
    [intent_id] = peer.intents
    stored = await _payment(uuid.UUID(started.json()["id"]))
    assert (stored.status, stored.provider_payment_id) == ("requires_payment", intent_id)


async def test_an_outage_is_a_503_and_the_retry_completes_the_requested_attempt(
    app: FastAPI, client: httpx.AsyncClient, peer: StripePeer
) -> None:
    org, user = await make_org(), await make_user("customer")
    booking = await make_booking(org, user, status="confirmed", price_cents=16_000)
    url = f"/api/v1/bookings/{booking.id}/payments"
    peer.fail_next = [503]
    with payments_port(app, StripeGateway("sk_test_peer", peer.base_url)):
        down = await client.post(url, headers=auth_headers(user))
        assert down.status_code == 503 and down.headers["retry-after"], down.text
        async with tenant_session(SYSTEM) as session:
            [requested] = await session.scalars(select(Payment).where(Payment.booking_id == booking.id))
        # Recorded before the provider was asked: open, no provider id yet.
        assert (requested.status, requested.provider_payment_id) == ("requires_payment", None)
        retried = await client.post(url, headers=auth_headers(user))
    assert retried.status_code == 201, retried.text
    assert retried.json()["id"] == str(requested.id) and retried.json()["client_secret"]
    keys = {r.headers.get("Idempotency-Key") for r in peer.requests}
    assert keys == {f"movehub-payment-{booking.id}-0"} and len(peer.requests) == 2
    [intent_id] = peer.intents
    assert (await _payment(requested.id)).provider_payment_id == intent_id


class WebhookFirst:
    """A provider whose success webhook arrives before it answers the start."""

    name = "stripe"

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client, self.intent_id = client, f"pi_early_{uuid.uuid4().hex[:12]}"

    async def create_intent(
        self, amount_cents: int, currency: str, idempotency_key: str, metadata: dict[str, str]
    ) -> IntentResult:
        delivered = await _post(
            self.client,
            _event(
                "payment_intent.succeeded",
                {
                    "id": self.intent_id,
                    "object": "payment_intent",
                    "amount": amount_cents,
                    "amount_received": amount_cents,
                    "currency": currency.lower(),
                    "metadata": metadata,
                },
            ),
        )
        assert delivered.status_code == 200, delivered.text
        return IntentResult(self.intent_id, "requires_payment", "secret")

    async def refund(self, provider_payment_id: str, amount_cents: int, idempotency_key: str) -> RefundResult:
        raise NotImplementedError


async def test_a_webhook_before_the_answer_is_recorded_still_pays_the_attempt(
    client: httpx.AsyncClient,
) -> None:
    org, user = await make_org(), await make_user("customer")
    customer = caller_for(user)
    booking = await make_booking(org, user, status="confirmed", price_cents=11_000)
    early = WebhookFirst(client)
    payment = await start_payment(customer, booking.id, early)  # type: ignore[arg-type]
    stored = await _payment(payment.id)
    assert (payment.status, stored.status, stored.provider_payment_id) == (
        "succeeded",
        "succeeded",
        early.intent_id,
    )
