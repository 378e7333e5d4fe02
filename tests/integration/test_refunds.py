"""Cancellation refunds sent through the official Stripe SDK to a local Stripe peer, with
injected faults: the refund is applied exactly once and its idempotency key never changes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from dispatch.errors import Conflict
from dispatch.payments.service import apply_webhook_event, start_payment
from dispatch.refunds.rules import ReasonCode
from dispatch.refunds.service import cancel, issue_refund, retry_due_refunds, send_refund
from persistence.integrations.payments.port import RefundResult
from persistence.integrations.payments.stripe_gateway import StripeGateway
from persistence.models import OutboxEvent, Refund
from persistence.session import SYSTEM, Caller, tenant_session
from tests.factories import caller_for, make_booking, make_org, make_user
from tests.peers.stripe_peer import DROP, HANG, StripePeer

PRICE = 40_000


@pytest.fixture
def peer() -> Iterator[StripePeer]:
    stripe_peer = StripePeer(hang_s=1.5).start()
    yield stripe_peer
    stripe_peer.stop()


@pytest.fixture
def gateway(peer: StripePeer) -> StripeGateway:
    return StripeGateway("sk_test_peer", peer.base_url, timeout_s=0.5)


async def _paid_booking(gateway: StripeGateway, hours_ahead: float) -> tuple[Caller, object]:
    org = await make_org()
    customer = caller_for(await make_user("customer"))
    user_id = customer.user_id
    assert user_id is not None
    start = datetime.now(UTC) + timedelta(hours=hours_ahead)
    from persistence.models import User

    async with tenant_session(SYSTEM) as session:
        user = await session.get(User, user_id)
    assert user is not None
    booking = await make_booking(org, user, start=start, status="confirmed", price_cents=PRICE)
    async with tenant_session(customer) as session:
        payment = await start_payment(session, booking.id, customer, gateway)
    async with tenant_session(SYSTEM) as session:
        await apply_webhook_event(session, {
            "id": f"evt_paid_{payment.id}", "type": "payment_intent.succeeded",
            "created": int(datetime.now(UTC).timestamp()),
            "data": {"object": {"id": payment.provider_payment_id}}})
    return customer, booking


async def _cancel(customer: Caller, booking: object) -> Refund:
    async with tenant_session(customer) as session:
        _, refund = await cancel(session, booking.id, customer,  # type: ignore[attr-defined]
                                 ReasonCode.CHANGE_OF_PLANS, "moving later")
    assert refund is not None
    return refund


async def _stored(refund_id: object) -> Refund:
    async with tenant_session(SYSTEM) as session:
        refund = await session.get(Refund, refund_id)
    assert refund is not None
    return refund


def _keys(peer: StripePeer) -> set[str]:
    return {r.headers.get("Idempotency-Key", "") for r in peer.requests
            if r.path.startswith("/v1/refunds")}


async def test_tier_amount_and_happy_send(peer: StripePeer, gateway: StripeGateway) -> None:
    customer, booking = await _paid_booking(gateway, hours_ahead=60)  # 48-72 h: 75 %
    refund = await _cancel(customer, booking)
    assert refund.amount_cents == PRICE * 75 // 100
    assert await send_refund(refund.id, gateway) == "succeeded"
    assert len(peer.refunds) == 1 and next(iter(peer.refunds.values()))["amount"] == 30_000


@pytest.mark.parametrize("fault", [500, 429, HANG, DROP],
                         ids=["http-500", "http-429", "timeout", "connection-reset"])
async def test_fault_then_retry_applies_once(peer: StripePeer, gateway: StripeGateway,
                                             fault: int) -> None:
    customer, booking = await _paid_booking(gateway, hours_ahead=100)
    refund = await _cancel(customer, booking)
    now = datetime.now(UTC)
    peer.fail_next = [fault]
    assert await send_refund(refund.id, gateway, now) == "failed"
    failed = await _stored(refund.id)
    assert failed.attempts == 1 and failed.next_attempt_at > now and failed.last_error
    assert await send_refund(refund.id, gateway, now) is None  # not due yet
    assert await retry_due_refunds(gateway, now + timedelta(hours=2)) >= 1
    done = await _stored(refund.id)
    assert done.status == "succeeded" and done.attempts == 2
    assert len(peer.refunds) == 1
    assert _keys(peer) == {done.idempotency_key}


class CrashAfterProviderCall:
    """The provider refunds, then the worker dies before our commit."""

    name = "stripe"

    def __init__(self, real: StripeGateway) -> None:
        self.real = real

    async def refund(self, provider_payment_id: str, amount_cents: int,
                     idempotency_key: str) -> RefundResult:
        await self.real.refund(provider_payment_id, amount_cents, idempotency_key)
        raise RuntimeError("worker died after the provider answered")


async def test_crash_between_provider_answer_and_commit(peer: StripePeer,
                                                        gateway: StripeGateway) -> None:
    customer, booking = await _paid_booking(gateway, hours_ahead=100)
    refund = await _cancel(customer, booking)
    now = datetime.now(UTC)
    with pytest.raises(RuntimeError):
        await send_refund(refund.id, CrashAfterProviderCall(gateway), now)  # type: ignore[arg-type]
    assert (await _stored(refund.id)).status == "sending"
    assert await retry_due_refunds(gateway, now + timedelta(seconds=30)) == 0  # lease holds
    assert await retry_due_refunds(gateway, now + timedelta(minutes=3)) == 1
    done = await _stored(refund.id)
    assert done.status == "succeeded" and done.provider_refund_id in peer.refunds
    assert len(peer.refunds) == 1  # the replayed key got the same refund back
    assert _keys(peer) == {done.idempotency_key}


async def test_concurrent_senders_claim_once(peer: StripePeer, gateway: StripeGateway) -> None:
    customer, booking = await _paid_booking(gateway, hours_ahead=100)
    refund = await _cancel(customer, booking)
    results = await asyncio.gather(*(send_refund(refund.id, gateway) for _ in range(5)))
    assert results.count("succeeded") == 1 and results.count(None) == 4
    assert len(peer.refunds) == 1


async def test_gives_up_into_dead_state_with_alert(peer: StripePeer,
                                                   gateway: StripeGateway) -> None:
    customer, booking = await _paid_booking(gateway, hours_ahead=100)
    refund = await _cancel(customer, booking)
    peer.fail_next = [500] * 10
    now = datetime.now(UTC)
    statuses = []
    for attempt in range(6):
        statuses.append(await send_refund(refund.id, gateway,
                                          now + timedelta(days=attempt)))
    assert statuses[-1] == "dead" and statuses[:-1] == ["failed"] * 5
    async with tenant_session(SYSTEM) as session:
        alert = await session.scalar(select(OutboxEvent).where(
            OutboxEvent.topic == "alert.refund_dead",
            OutboxEvent.payload["refund_id"].astext == str(refund.id)))
    assert alert is not None
    assert await send_refund(refund.id, gateway, now + timedelta(days=30)) is None
    assert len(peer.refunds) == 0


async def test_refunds_never_exceed_what_was_paid(gateway: StripeGateway) -> None:
    customer, booking = await _paid_booking(gateway, hours_ahead=100)
    admin = Caller(role="platform_admin")
    async with tenant_session(admin) as session:
        await issue_refund(session, booking.id, 30_000, "support_resolution", "damage", admin)  # type: ignore[attr-defined]
    with pytest.raises(Conflict):
        async with tenant_session(admin) as session:
            await issue_refund(session, booking.id, 10_001, "support_resolution", "", admin)  # type: ignore[attr-defined]
    refund = await _cancel(customer, booking)  # 100 % tier, but only 10,000 left
    assert refund.amount_cents == 10_000
