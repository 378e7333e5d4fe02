"""Invoices paid online: the customer starts a PaymentIntent for the balance (the official
Stripe SDK against the local Stripe peer, or the local ledger over HTTP), and the signed
webhook settles it once: amount and currency checked, duplicates and stale events without
effect, a manual part-payment respected, a superseded intent paid anyway raising an alert."""

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
from sqlalchemy import select, text

from dispatch.errors import Conflict
from dispatch.invoices import online
from persistence.config import get_settings
from persistence.integrations.payments.port import IntentResult, RefundResult
from persistence.integrations.payments.stripe_gateway import StripeGateway
from persistence.models import (
    Invoice,
    InvoiceOnlinePayment,
    InvoicePayment,
    OutboxEvent,
    PaymentEvent,
    User,
)
from persistence.session import SYSTEM, tenant_session
from tests.factories import auth_headers, caller_for, make_booking, make_org, make_user
from tests.integration.transaction_probe import (
    NoTransactionProbe,
    assert_probe_sees_an_open_transaction,
)
from tests.peers.stripe_peer import StripePeer, signed_event

API = "/api/v1/invoices"
WEBHOOK = "/api/v1/payments/stripe/webhook"


@pytest.fixture
def peer() -> Iterator[StripePeer]:
    stripe_peer = StripePeer().start()
    yield stripe_peer
    stripe_peer.stop()


async def issued_invoice(
    client: httpx.AsyncClient, *, price_cents: int = 30_000, tax_rate_bp: int = 1_900
) -> tuple[User, User, dict[str, Any]]:
    """(staff, customer, the issued invoice) of a new organization."""
    org = await make_org()
    staff, customer = await make_user("mover_admin", org), await make_user("customer")
    booking = await make_booking(org, customer, price_cents=price_cents)
    draft = await client.post(
        API, json={"booking_id": str(booking.id), "tax_rate_bp": tax_rate_bp}, headers=auth_headers(staff)
    )
    assert draft.status_code == 201, draft.text
    issued = await client.post(f"{API}/{draft.json()['id']}/issue", headers=auth_headers(staff))
    assert issued.status_code == 200, issued.text
    return staff, customer, issued.json()


async def record_by_hand(client: httpx.AsyncClient, staff: User, invoice_id: str, amount_cents: int) -> None:
    response = await client.post(
        f"{API}/{invoice_id}/payments",
        headers=auth_headers(staff),
        json={
            "amount_cents": amount_cents,
            "method": "bank_transfer",
            "reference": f"bank-{uuid.uuid4().hex[:8]}",
        },
    )
    assert response.status_code == 201, response.text


async def start_with_stripe(peer: StripePeer, customer: User, invoice_id: str) -> InvoiceOnlinePayment:
    return await online.start(
        caller_for(customer), uuid.UUID(invoice_id), StripeGateway("sk_test_peer", peer.base_url)
    )


def intent_event(
    kind: str,
    row: InvoiceOnlinePayment,
    *,
    amount: int | None = None,
    currency: str | None = None,
    created: int | None = None,
) -> dict[str, Any]:
    obj = {
        "id": row.provider_payment_id,
        "object": "payment_intent",
        "amount": row.amount_cents,
        "amount_received": row.amount_cents if amount is None else amount,
        "currency": (currency or row.currency).lower(),
        "metadata": {"online_payment_id": str(row.id)},
    }
    return {
        "id": f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "type": kind,
        "created": created or int(time.time()),
        "data": {"object": obj},
    }


async def deliver(
    client: httpx.AsyncClient, event: dict[str, Any], secret: str | None = None
) -> httpx.Response:
    body, signature = signed_event(secret or get_settings().stripe_webhook_secret, event)
    return await client.post(
        WEBHOOK, content=body, headers={"Stripe-Signature": signature, "content-type": "application/json"}
    )


async def rows(invoice_id: str) -> tuple[Invoice, list[InvoicePayment], list[InvoiceOnlinePayment]]:
    key = uuid.UUID(invoice_id)
    async with tenant_session(SYSTEM) as session:
        invoice = await session.get(Invoice, key)
        payments = list(
            await session.scalars(
                select(InvoicePayment)
                .where(InvoicePayment.invoice_id == key)
                .order_by(InvoicePayment.created_at)
            )
        )
        attempts = list(
            await session.scalars(
                select(InvoiceOnlinePayment)
                .where(InvoiceOnlinePayment.invoice_id == key)
                .order_by(InvoiceOnlinePayment.attempt)
            )
        )
    assert invoice is not None
    return invoice, payments, attempts


async def alerts(topic: str, invoice_id: str) -> list[dict[str, Any]]:
    async with tenant_session(SYSTEM) as session:
        events = await session.scalars(
            select(OutboxEvent).where(OutboxEvent.topic == topic, OutboxEvent.aggregate_id == invoice_id)
        )
        return [event.payload for event in events]


async def test_local_ledger_pays_at_once_over_http(client: httpx.AsyncClient) -> None:
    staff, customer, invoice = await issued_invoice(client)
    url = f"{API}/{invoice['id']}/pay"
    assert (await client.post(url, headers=auth_headers(staff))).status_code == 403
    stranger = await client.post(url, headers=auth_headers(await make_user("customer")))
    assert stranger.status_code == 404
    assert stranger.headers["content-type"].startswith("application/problem+json")
    assert (await client.post(f"{API}/{uuid.uuid4()}/pay", headers=auth_headers(customer))).status_code == 404

    paid = await client.post(url, headers=auth_headers(customer))
    assert paid.status_code == 201, paid.text
    body = paid.json()
    assert (body["status"], body["amount_cents"], body["credited_cents"]) == ("succeeded", 35_700, 35_700)
    stored, payments, attempts = await rows(invoice["id"])
    assert (stored.status, stored.paid_cents, stored.paid_at is not None) == ("paid", 35_700, True)
    assert [(p.amount_cents, p.method, p.reference) for p in payments] == [
        (35_700, "card", body["provider_payment_id"])
    ]
    assert attempts[0].invoice_payment_id == payments[0].id
    again = await client.post(url, headers=auth_headers(customer))
    assert again.status_code == 409 and again.json()["invoice_status"] == "paid"
    listed = await client.get(f"{API}/{invoice['id']}/online-payments", headers=auth_headers(staff))
    assert listed.status_code == 200
    assert [(a["id"], a["client_secret"]) for a in listed.json()] == [(body["id"], None)]


async def test_a_draft_or_void_invoice_is_not_paid_online(client: httpx.AsyncClient) -> None:
    staff, customer, invoice = await issued_invoice(client)
    voided = await client.post(
        f"{API}/{invoice['id']}/void", json={"reason": "duplicate"}, headers=auth_headers(staff)
    )
    assert voided.status_code == 200, voided.text
    refused = await client.post(f"{API}/{invoice['id']}/pay", headers=auth_headers(customer))
    assert refused.status_code == 409 and refused.json()["invoice_status"] == "void"
    assert (await rows(invoice["id"]))[2] == []


async def test_webhook_settles_the_balance_after_a_manual_part_payment_once(
    client: httpx.AsyncClient, peer: StripePeer
) -> None:
    staff, customer, invoice = await issued_invoice(client)
    await record_by_hand(client, staff, invoice["id"], 10_000)
    row = await start_with_stripe(peer, customer, invoice["id"])
    assert (row.status, row.amount_cents, row.currency) == ("requires_payment", 25_700, "EUR")
    [asked] = peer.intents.values()
    assert (asked["amount"], asked["currency"]) == (25_700, "eur")
    again = await start_with_stripe(peer, customer, invoice["id"])
    assert again.id == row.id and len(peer.intents) == 1  # the open attempt is reused

    succeeded = intent_event("payment_intent.succeeded", row)
    first = await deliver(client, succeeded)
    assert first.status_code == 200 and first.json()["duplicate"] is False, first.text
    assert (await deliver(client, succeeded)).json()["duplicate"] is True
    # The same news under another event id (Stripe may send both): still one payment.
    assert (await deliver(client, intent_event("payment_intent.succeeded", row))).status_code == 200
    older_failure = intent_event("payment_intent.payment_failed", row, created=int(time.time()) - 600)
    assert (await deliver(client, older_failure)).status_code == 200

    stored, payments, attempts = await rows(invoice["id"])
    assert (stored.status, stored.paid_cents) == ("paid", 35_700)
    assert sorted((p.amount_cents, p.method) for p in payments) == [
        (10_000, "bank_transfer"),
        (25_700, "card"),
    ]
    assert [(a.status, a.received_cents, a.credited_cents) for a in attempts] == [
        ("succeeded", 25_700, 25_700)
    ]
    async with tenant_session(SYSTEM) as session:
        seen = await session.scalar(select(PaymentEvent.id).where(PaymentEvent.id == succeeded["id"]))
    assert seen == succeeded["id"]


async def test_wrong_amount_currency_or_signature_credits_nothing(
    client: httpx.AsyncClient, peer: StripePeer
) -> None:
    _, customer, invoice = await issued_invoice(client)
    row = await start_with_stripe(peer, customer, invoice["id"])
    forged = await deliver(client, intent_event("payment_intent.succeeded", row), secret="whsec_attacker")
    assert forged.status_code == 400
    for event in (
        intent_event("payment_intent.succeeded", row, amount=100),
        intent_event("payment_intent.succeeded", row, currency="usd"),
    ):
        assert (await deliver(client, event)).status_code == 200
    stored, payments, attempts = await rows(invoice["id"])
    assert (stored.status, stored.paid_cents, payments) == ("issued", 0, [])
    assert attempts[0].status == "requires_payment"
    mismatches = await alerts("alert.invoice_payment_mismatch", invoice["id"])
    assert sorted((m["reported_cents"], m["reported_currency"]) for m in mismatches) == [
        (100, "EUR"),
        (35_700, "USD"),
    ]

    assert (await deliver(client, intent_event("payment_intent.succeeded", row))).status_code == 200
    stored, payments, _ = await rows(invoice["id"])
    assert (stored.status, [p.amount_cents for p in payments]) == ("paid", [35_700])


async def test_a_failed_intent_then_a_new_one_and_a_superseded_one_paid_anyway(
    client: httpx.AsyncClient, peer: StripePeer
) -> None:
    staff, customer, invoice = await issued_invoice(client)
    failed = await start_with_stripe(peer, customer, invoice["id"])
    assert (await deliver(client, intent_event("payment_intent.payment_failed", failed))).status_code == 200
    first = await start_with_stripe(peer, customer, invoice["id"])
    assert first.id != failed.id and first.attempt == 1 and first.amount_cents == 35_700

    await record_by_hand(client, staff, invoice["id"], 5_700)  # the balance changes
    rest = await start_with_stripe(peer, customer, invoice["id"])
    assert (rest.attempt, rest.amount_cents) == (2, 30_000)
    _, _, attempts = await rows(invoice["id"])
    assert [a.status for a in attempts] == ["failed", "superseded", "requires_payment"]

    await deliver(client, intent_event("payment_intent.succeeded", rest))
    stored, _, _ = await rows(invoice["id"])
    assert (stored.status, stored.paid_cents) == ("paid", 35_700)
    # The customer had paid the superseded intent too: nothing more goes on the invoice, and
    # staff hear of the surplus to refund.
    await deliver(client, intent_event("payment_intent.succeeded", first))
    stored, payments, attempts = await rows(invoice["id"])
    assert (stored.status, stored.paid_cents, len(payments)) == ("paid", 35_700, 2)
    assert [(a.status, a.credited_cents) for a in attempts] == [
        ("failed", None),
        ("succeeded", 0),
        ("succeeded", 30_000),
    ]
    [overpaid] = await alerts("alert.invoice_overpaid", invoice["id"])
    assert (overpaid["excess_cents"], overpaid["online_payment_id"]) == (35_700, str(first.id))


class LockProbe:
    """A provider that, while asked for an intent, checks from another transaction that nobody
    holds the invoice's row lock (NOWAIT fails at once if someone does)."""

    name = "probe"

    def __init__(self, invoice_id: uuid.UUID) -> None:
        self.invoice_id, self.keys = invoice_id, []  # type: list[str]

    async def create_intent(
        self, amount_cents: int, currency: str, idempotency_key: str, metadata: dict[str, str]
    ) -> IntentResult:
        async with tenant_session(SYSTEM) as session:
            await session.scalar(
                select(Invoice.id).where(Invoice.id == self.invoice_id).with_for_update(nowait=True)
            )
        self.keys.append(idempotency_key)
        return IntentResult(f"pi_probe_{uuid.uuid4().hex[:12]}", "requires_payment", "secret")

    async def refund(self, provider_payment_id: str, amount_cents: int, idempotency_key: str) -> RefundResult:
        raise NotImplementedError


async def test_provider_is_asked_with_no_invoice_lock_held(client: httpx.AsyncClient) -> None:
    _, customer, invoice = await issued_invoice(client)
    probe = LockProbe(uuid.UUID(invoice["id"]))
    row = await online.start(caller_for(customer), uuid.UUID(invoice["id"]), probe)  # type: ignore[arg-type]
    assert probe.keys == [f"movehub-invoice-{invoice['id']}-0-35700"]
    assert row.provider == "probe" and row.status == "requires_payment"


async def test_a_balance_changed_while_the_provider_answered_supersedes_the_attempt(
    client: httpx.AsyncClient,
) -> None:
    _, customer, invoice = await issued_invoice(client)
    probe = LockProbe(uuid.UUID(invoice["id"]))
    admin = await make_user("platform_admin")

    async def paid_by_hand_meanwhile(*args: Any) -> IntentResult:
        await record_by_hand(client, admin, invoice["id"], 5_700)
        return await LockProbe.create_intent(probe, *args)

    probe.create_intent = paid_by_hand_meanwhile  # type: ignore[method-assign]
    with pytest.raises(Conflict) as refused:
        await online.start(caller_for(customer), uuid.UUID(invoice["id"]), probe)  # type: ignore[arg-type]
    assert refused.value.extra == {"outstanding_cents": 30_000}
    stored, payments, attempts = await rows(invoice["id"])
    assert (stored.paid_cents, len(payments)) == (5_700, 1)
    # The attempt asked for the old balance: superseded, its intent kept (a payment made with
    # it anyway still settles, the excess raised), and the next start asks for the rest.
    assert [(a.attempt, a.amount_cents, a.status, a.provider_payment_id is not None) for a in attempts] == [
        (0, 35_700, "superseded", True)
    ]


async def test_concurrent_starts_record_one_attempt_and_one_intent(
    client: httpx.AsyncClient, peer: StripePeer
) -> None:
    _, customer, invoice = await issued_invoice(client)
    started = await asyncio.gather(*(start_with_stripe(peer, customer, invoice["id"]) for _ in range(4)))
    assert len({row.id for row in started}) == 1
    assert len({row.provider_payment_id for row in started}) == 1
    assert len(peer.intents) == 1  # one key for the attempt: the provider made one intent
    _, _, attempts = await rows(invoice["id"])
    assert [(a.attempt, a.status) for a in attempts] == [(0, "requires_payment")]


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
    _, customer, invoice = await issued_invoice(client)
    probe = NoTransactionProbe(StripeGateway("sk_test_peer", peer.base_url))
    with payments_port(app, probe):
        started = await client.post(f"{API}/{invoice['id']}/pay", headers=auth_headers(customer))
    assert started.status_code == 201, started.text
    assert probe.seen == [[]]  # asked once, with no transaction of ours open meanwhile
    [intent_id] = peer.intents
    _, _, attempts = await rows(invoice["id"])
    assert [(a.status, a.provider_payment_id) for a in attempts] == [("requires_payment", intent_id)]


async def test_an_outage_is_a_503_and_the_retry_completes_the_requested_attempt(
    app: FastAPI, client: httpx.AsyncClient, peer: StripePeer
) -> None:
    _, customer, invoice = await issued_invoice(client)
    url = f"{API}/{invoice['id']}/pay"
    peer.fail_next = [503]
    with payments_port(app, StripeGateway("sk_test_peer", peer.base_url)):
        down = await client.post(url, headers=auth_headers(customer))
        assert down.status_code == 503 and down.headers["retry-after"], down.text
        _, _, [requested] = await rows(invoice["id"])
        # Recorded before the provider was asked: open, no provider id yet.
        assert (requested.status, requested.provider_payment_id) == ("requires_payment", None)
        retried = await client.post(url, headers=auth_headers(customer))
    assert retried.status_code == 201, retried.text
    assert retried.json()["id"] == str(requested.id) and retried.json()["client_secret"]
    keys = {r.headers.get("Idempotency-Key") for r in peer.requests}
    assert keys == {f"movehub-invoice-{invoice['id']}-0-35700"} and len(peer.requests) == 2
    [intent_id] = peer.intents
    _, _, attempts = await rows(invoice["id"])
    assert [(a.attempt, a.status, a.provider_payment_id) for a in attempts] == [
        (0, "requires_payment", intent_id)
    ]


class WebhookFirst:
    """A provider whose success webhook arrives before it answers the start."""

    name = "stripe"

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client, self.intent_id = client, f"pi_early_{uuid.uuid4().hex[:12]}"

    async def create_intent(
        self, amount_cents: int, currency: str, idempotency_key: str, metadata: dict[str, str]
    ) -> IntentResult:
        event = {
            "id": f"evt_{uuid.uuid4().hex}",
            "object": "event",
            "type": "payment_intent.succeeded",
            "created": int(time.time()),
            "data": {
                "object": {
                    "id": self.intent_id,
                    "object": "payment_intent",
                    "amount": amount_cents,
                    "amount_received": amount_cents,
                    "currency": currency.lower(),
                    "metadata": metadata,
                }
            },
        }
        delivered = await deliver(self.client, event)
        assert delivered.status_code == 200, delivered.text
        return IntentResult(self.intent_id, "requires_payment", "secret")

    async def refund(self, provider_payment_id: str, amount_cents: int, idempotency_key: str) -> RefundResult:
        raise NotImplementedError


async def test_a_webhook_before_the_answer_is_recorded_still_settles_the_attempt(
    client: httpx.AsyncClient,
) -> None:
    _, customer, invoice = await issued_invoice(client)
    early = WebhookFirst(client)
    row = await online.start(caller_for(customer), uuid.UUID(invoice["id"]), early)  # type: ignore[arg-type]
    assert (row.status, row.provider_payment_id) == ("succeeded", early.intent_id)
    stored, payments, attempts = await rows(invoice["id"])
    assert (stored.status, stored.paid_cents, [p.amount_cents for p in payments]) == (
        "paid",
        35_700,
        [35_700],
    )
    assert [(a.status, a.credited_cents) for a in attempts] == [("succeeded", 35_700)]


async def test_a_webhook_waits_on_the_invoice_lock_before_it_locks_the_attempt(
    client: httpx.AsyncClient, peer: StripePeer
) -> None:
    """A start recording the provider's answer holds the invoice and then locks the attempt;
    a webhook about that attempt arriving between the two must not take the attempt first
    (the opposite order would deadlock the two)."""
    _, customer, invoice = await issued_invoice(client)
    row = await start_with_stripe(peer, customer, invoice["id"])
    async with tenant_session(SYSTEM) as holder:
        await holder.execute(
            text("SELECT id FROM invoices WHERE id = :id FOR UPDATE"), {"id": uuid.UUID(invoice["id"])}
        )
        webhook = asyncio.create_task(deliver(client, intent_event("payment_intent.succeeded", row)))
        deadline = time.monotonic() + 10
        while not await _waiting_on_a_lock():  # the webhook is queued behind us
            assert not webhook.done(), webhook.result().text
            assert time.monotonic() < deadline, "the webhook never waited on the invoice's lock"
            await asyncio.sleep(0.05)
        await holder.execute(text("SET LOCAL lock_timeout = '3s'"))
        locked = await holder.scalar(
            text("SELECT status FROM invoice_online_payments WHERE id = :id FOR UPDATE"), {"id": row.id}
        )
        assert locked == "requires_payment"  # the attempt was free: the webhook did not hold it
    answered = await asyncio.wait_for(webhook, 15)
    assert answered.status_code == 200, answered.text
    stored, _, attempts = await rows(invoice["id"])
    assert (stored.status, [a.status for a in attempts]) == ("paid", ["succeeded"])


async def _waiting_on_a_lock() -> bool:
    """Asked in a transaction of its own: pg_stat_activity is a snapshot per transaction."""
    async with tenant_session(SYSTEM) as session:
        waiting = await session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
        )
    return bool(waiting)
