"""Cancellation refunds sent by the outbox worker (topic `refund.send`) through the official
Stripe SDK to a local Stripe peer, with injected faults: the refund is applied exactly once and
its idempotency key never changes, whatever the retries, crashes and concurrent workers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from actors.outbox import OutboxWorker
from dispatch.errors import Conflict
from dispatch.payments.service import apply_webhook_event, start_payment
from dispatch.refunds.rules import ReasonCode
from dispatch.refunds.service import cancel, issue_refund
from persistence.integrations.email.log import LogEmail
from persistence.integrations.payments.local import LocalLedger
from persistence.integrations.payments.port import PaymentsPort, RefundResult
from persistence.integrations.payments.stripe_gateway import StripeGateway
from persistence.integrations.sms.log import LogSms
from persistence.models import OutboxEvent, Refund
from persistence.session import SYSTEM, Caller, tenant_session
from tests.factories import auth_headers, caller_for, make_booking, make_org, make_user
from tests.peers.harness import make_worker, parked_outbox_fixture  # noqa: F401 - fixture
from tests.peers.stripe_peer import DROP, HANG, StripePeer

PRICE = 40_000
LEASE_S = 300.0
# Every test here starts with the other tests' pending rows parked, so its workers see its own.
pytestmark = pytest.mark.usefixtures("parked_outbox")


@pytest.fixture
def peer() -> Iterator[StripePeer]:
    stripe_peer = StripePeer(hang_s=1.5).start()
    yield stripe_peer
    stripe_peer.stop()


@pytest.fixture
def gateway(peer: StripePeer) -> StripeGateway:
    return StripeGateway("sk_test_peer", peer.base_url, timeout_s=0.5)


def _worker(port: PaymentsPort, **overrides: object) -> OutboxWorker:
    return make_worker(LogEmail(), LogSms(), payments=port, outbox_lease_s=LEASE_S, **overrides)


@pytest.fixture
def worker(gateway: StripeGateway) -> OutboxWorker:
    return _worker(gateway, outbox_max_attempts=6)


async def _paid_booking(gateway: PaymentsPort, hours_ahead: float) -> tuple[Caller, object]:
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
    payment = await start_payment(customer, booking.id, gateway)
    async with tenant_session(SYSTEM) as session:
        await apply_webhook_event(
            session,
            {
                "id": f"evt_paid_{payment.id}",
                "type": "payment_intent.succeeded",
                "created": int(datetime.now(UTC).timestamp()),
                "data": {"object": {"id": payment.provider_payment_id}},
            },
        )
    return customer, booking


async def _cancel(customer: Caller, booking: object) -> Refund:
    async with tenant_session(customer) as session:
        _, refund = await cancel(
            session,
            booking.id,
            customer,  # type: ignore[attr-defined]
            ReasonCode.CHANGE_OF_PLANS,
            "moving later",
        )
    assert refund is not None
    return refund


async def _stored(refund_id: object) -> Refund:
    async with tenant_session(SYSTEM) as session:
        refund = await session.get(Refund, refund_id)
    assert refund is not None
    return refund


async def _send_row(refund_id: object) -> OutboxEvent:
    """The refund's `refund.send` outbox row (one per key generation; the first here)."""
    async with tenant_session(SYSTEM) as session:
        return (
            await session.scalars(
                select(OutboxEvent).where(
                    OutboxEvent.topic == "refund.send",
                    OutboxEvent.payload["refund_id"].astext == str(refund_id),
                )
            )
        ).one()


def _soon() -> datetime:
    return datetime.now(UTC) + timedelta(seconds=1)  # past every row's database timestamp


def _keys(peer: StripePeer) -> set[str]:
    return {r.headers.get("Idempotency-Key", "") for r in peer.requests if r.path.startswith("/v1/refunds")}


async def test_tier_amount_and_happy_send(peer: StripePeer, worker: OutboxWorker) -> None:
    customer, booking = await _paid_booking(worker.ports.payments, hours_ahead=60)  # 75 %
    refund = await _cancel(customer, booking)
    assert refund.amount_cents == PRICE * 75 // 100
    assert (refund.status, len(peer.refunds)) == ("pending", 0)  # nothing sent in the request
    await worker.drain_once(_soon())
    assert (await _stored(refund.id)).status == "succeeded"
    assert (await _send_row(refund.id)).status == "delivered"
    assert len(peer.refunds) == 1 and next(iter(peer.refunds.values()))["amount"] == 30_000


@pytest.mark.parametrize(
    "fault", [500, 429, HANG, DROP], ids=["http-500", "http-429", "timeout", "connection-reset"]
)
async def test_fault_then_retry_applies_once(
    peer: StripePeer, gateway: StripeGateway, worker: OutboxWorker, fault: int
) -> None:
    customer, booking = await _paid_booking(gateway, hours_ahead=100)
    refund = await _cancel(customer, booking)
    now = _soon()
    peer.fail_next = [fault]
    await worker.drain_once(now)
    failed = await _stored(refund.id)
    assert failed.status == "failed" and failed.attempts == 1 and failed.last_error
    row = await _send_row(refund.id)
    assert row.status == "pending" and row.next_attempt_at > now  # the outbox's backoff
    await worker.drain_once(now)  # not due yet
    assert (await _stored(refund.id)).attempts == 1
    await worker.drain_once(now + timedelta(hours=2))
    done = await _stored(refund.id)
    assert done.status == "succeeded" and done.attempts == 2
    assert len(peer.refunds) == 1
    assert _keys(peer) == {done.idempotency_key}


class WorkerDied(BaseException):
    """The worker process ends mid-send (no handler or worker code runs after it)."""


class CrashAfterProviderCall:
    """The provider refunds, then the worker dies before our commit."""

    name = "stripe"

    def __init__(self, real: StripeGateway) -> None:
        self.real = real

    async def refund(self, provider_payment_id: str, amount_cents: int, idempotency_key: str) -> RefundResult:
        await self.real.refund(provider_payment_id, amount_cents, idempotency_key)
        raise WorkerDied("worker died after the provider answered")


async def test_crash_between_provider_answer_and_commit(
    peer: StripePeer, gateway: StripeGateway, worker: OutboxWorker
) -> None:
    customer, booking = await _paid_booking(gateway, hours_ahead=100)
    refund = await _cancel(customer, booking)
    now = _soon()
    crashing = _worker(CrashAfterProviderCall(gateway))  # type: ignore[arg-type]
    with pytest.raises(WorkerDied):
        await crashing.drain_once(now)
    assert len(peer.refunds) == 1  # the provider did refund
    stored = await _stored(refund.id)
    assert stored.status == "pending" and stored.provider_refund_id is None  # never recorded
    await worker.drain_once(now + timedelta(seconds=30))  # the dead worker's lease holds
    assert (await _stored(refund.id)).status == "pending"
    await worker.drain_once(now + timedelta(seconds=LEASE_S + 1))
    done = await _stored(refund.id)
    assert done.status == "succeeded" and done.provider_refund_id in peer.refunds
    assert len(peer.refunds) == 1  # the replayed key got the same refund back
    assert _keys(peer) == {done.idempotency_key}


async def test_concurrent_workers_send_once(peer: StripePeer, gateway: StripeGateway) -> None:
    customer, booking = await _paid_booking(gateway, hours_ahead=100)
    refund = await _cancel(customer, booking)
    workers = [_worker(gateway) for _ in range(5)]
    now = _soon()
    await asyncio.gather(*(w.drain_once(now) for w in workers))
    assert sum(w.last.delivered for w in workers) >= 1
    assert (await _stored(refund.id)).status == "succeeded"
    assert (await _stored(refund.id)).attempts == 1
    assert len(peer.refunds) == 1 and len(_keys(peer)) == 1


async def test_gives_up_into_dead_state_with_one_alert(
    peer: StripePeer, gateway: StripeGateway, worker: OutboxWorker
) -> None:
    customer, booking = await _paid_booking(gateway, hours_ahead=100)
    refund = await _cancel(customer, booking)
    peer.fail_next = [500] * 10
    now = _soon()
    statuses = []
    for attempt in range(6):  # the worker's outbox_max_attempts
        await worker.drain_once(now + timedelta(days=attempt))
        statuses.append((await _stored(refund.id)).status)
    assert statuses == ["failed"] * 5 + ["dead"]
    assert (await _send_row(refund.id)).status == "dead"
    async with tenant_session(SYSTEM) as session:
        alerts = (
            await session.scalars(
                select(OutboxEvent).where(
                    OutboxEvent.topic == "alert.refund_dead",
                    OutboxEvent.payload["refund_id"].astext == str(refund.id),
                )
            )
        ).all()
    assert len(alerts) == 1
    asked = len(peer.requests)
    await worker.drain_once(now + timedelta(days=30))
    assert len(peer.requests) == asked  # the dead stay dead
    assert len(peer.refunds) == 0 and (await _stored(refund.id)).attempts == 6


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


async def test_cancel_route_leaves_the_send_to_the_outbox(client: httpx.AsyncClient) -> None:
    org, customer = await make_org(), await make_user("customer")
    booking = await make_booking(
        org, customer, start=datetime.now(UTC) + timedelta(days=5), status="confirmed", price_cents=PRICE
    )
    paid = await client.post(f"/api/v1/bookings/{booking.id}/payments", headers=auth_headers(customer))
    assert paid.status_code == 201 and paid.json()["status"] == "succeeded", paid.text
    cancelled = await client.post(
        f"/api/v1/bookings/{booking.id}/cancel",
        json={"reason_code": "change_of_plans"},
        headers=auth_headers(customer),
    )
    assert cancelled.status_code == 200, cancelled.text
    refund = cancelled.json()["refund"]
    assert (refund["status"], refund["amount_cents"]) == ("pending", PRICE)
    assert (await _send_row(refund["id"])).status == "pending"  # queued with the cancellation
    await _worker(LocalLedger()).drain_once(_soon())
    done = await _stored(refund["id"])
    assert done.status == "succeeded" and (done.provider_refund_id or "").startswith("re_local_")
