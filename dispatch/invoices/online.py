"""Invoices paid online: the customer pays an issued invoice's balance through the payments
port (a Stripe PaymentIntent), and the provider's verified webhook settles it.

Starting follows the booking payments' shape (dispatch/payments/service.py): the provider is
called during the request, because the answer (the client secret) is what the caller needs,
but never inside a database transaction (it would hold a pooled connection for a network call
of unbounded length). Three steps, each transaction short and as the caller (the invoice is
locked as the system: customers cannot lock what they may only read, and the caller was shown
to be the invoice's customer first):

1. Under the invoice's lock, the balance is checked and the open attempt found, or a new one
   recorded "requested" (requires_payment with no provider id yet) for the balance; commit.
   An open attempt for another balance (a payment recorded by hand changed it) is superseded.
2. The provider is asked with no session open, with an idempotency key naming the invoice, the
   attempt and the amount (all on the row, so the key can always be told again).
3. Under the invoice's lock again, the answer is recorded on the attempt once, and the balance
   checked again: when it moved meanwhile, the attempt is superseded (its intent kept, so a
   payment made with it anyway still settles, the excess raised as an alert) and the caller
   gets 409 with what is outstanding now.

Concurrent starts queue on the invoice's lock in step 1: one records the attempt, the others
find it, ask with the same key (the provider gives the same intent back) and step 3 records it
once. An attempt left requested by a crash, or by a provider that did not answer (503), is
found by the next start while the balance is the same: it asks again with the same key and
completes it (a changed balance supersedes it instead).

An open attempt is reused while the balance is what it asked for. When a payment recorded by
hand changed the balance, the next start supersedes it and asks for the rest.

Settling (`apply_intent_event`, as SYSTEM inside the webhook's transaction): applied at most
once per event id (payment_events, shared with booking payments), never twice per intent (a
settled row stays settled; the invoice payment's reference is the intent id, unique per
invoice), and never from an older event than one already applied. The amount and currency the
provider reports must be those the attempt asked for, or nothing is credited (an alert is
raised). What is credited is what is still owed: paid when the payments reach the total; a
surplus (a superseded intent paid anyway, a hand-recorded payment meanwhile) is not put on the
invoice but raised as `alert.invoice_overpaid` for staff to refund.

Locks are always taken in one order, the invoice and then its attempt (the start's step 3 and
the webhook alike), so a webhook racing a start waits rather than deadlocks.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidTransition,
    NotFound,
    Unavailable,
)
from dispatch.invoices import rules
from dispatch.invoices.service import _touch, get_invoice
from persistence.integrations.payments import IntentResult, PaymentProviderError, PaymentsPort
from persistence.models import Invoice, InvoiceOnlinePayment, InvoicePayment
from persistence.outbox import enqueue
from persistence.repositories.base import acting_as_system
from persistence.repositories.invoices import InvoiceOnlinePaymentRepository, InvoiceRepository
from persistence.session import Caller, tenant_session
from persistence.statuses import InvoiceStatus, OnlinePaymentStatus

log = structlog.get_logger("movehub.invoices.online")
# Online payment ids derive from (invoice, attempt), so a replayed start maps to the same row.
ONLINE_PAYMENT_NAMESPACE = uuid.UUID("0c3b9a4e-7d21-4f5e-9b8a-3e6f1d2c4b5a")
# Seconds a caller is told to wait (Retry-After) when the provider did not answer.
PROVIDER_RETRY_AFTER_S = 5
OPEN = frozenset({OnlinePaymentStatus.REQUIRES_PAYMENT, OnlinePaymentStatus.PROCESSING})


def _balance(invoice: Invoice) -> int:
    """What the customer owes now; an invoice that is not open takes no online payment."""
    if InvoiceStatus(invoice.status) not in rules.OPEN_STATUSES:
        raise InvalidTransition(
            f"an invoice that is {invoice.status} takes no payments", invoice_status=invoice.status
        )
    owed = rules.outstanding_cents(invoice.total_cents, invoice.paid_cents)
    if owed <= 0:
        raise Conflict("nothing is outstanding on this invoice", outstanding_cents=owed)
    return owed


async def _payable(session: AsyncSession, caller: Caller, invoice_id: uuid.UUID) -> tuple[Invoice, int]:
    invoice = await get_invoice(session, invoice_id)  # RLS: 404 to strangers
    if caller.role != "customer" or invoice.customer_id != caller.user_id:
        raise Forbidden("only the invoice's customer pays it online")
    return invoice, _balance(invoice)


async def _ask_provider(port: PaymentsPort, row: InvoiceOnlinePayment, invoice_number: str) -> IntentResult:
    try:
        return await port.create_intent(
            row.amount_cents,
            row.currency,
            f"movehub-invoice-{row.invoice_id}-{row.attempt}-{row.amount_cents}",
            {
                "invoice_id": str(row.invoice_id),
                "online_payment_id": str(row.id),
                "invoice_number": invoice_number,
            },
        )
    except PaymentProviderError as exc:
        raise Unavailable(
            "the payment provider did not answer; try again", retry_after=PROVIDER_RETRY_AFTER_S
        ) from exc


async def start(
    caller: Caller, invoice_id: uuid.UUID, port: PaymentsPort, now: datetime | None = None
) -> InvoiceOnlinePayment:
    """Use case: the invoice's customer starts paying its balance online (one open attempt).
    Two short transactions as the caller, the provider asked between them with none open."""
    now = now or datetime.now(UTC)
    async with tenant_session(caller) as session:
        row, number = await _open_attempt(session, caller, invoice_id, port.name, now)
    if row.provider_payment_id is not None:
        return row  # asked and answered already
    intent = await _ask_provider(port, row, number)  # no transaction open here
    async with tenant_session(caller) as session:
        row, refusal = await _record_answer(session, caller, row.id, intent, now)
    if refusal is not None:
        raise refusal
    return row


async def _open_attempt(
    session: AsyncSession, caller: Caller, invoice_id: uuid.UUID, provider: str, now: datetime
) -> tuple[InvoiceOnlinePayment, str]:
    """Step 1: the open attempt for the balance, or a new one recorded as requested; with the
    invoice's number (the provider's metadata)."""
    await _payable(session, caller, invoice_id)  # 404 to strangers, 403, 409 nothing owed
    async with acting_as_system(session, caller):
        payments = InvoiceOnlinePaymentRepository(session)
        invoice = await get_invoice(session, invoice_id, lock=True)
        owed = _balance(invoice)
        current = await payments.open_for_invoice(invoice.id)
        if current is not None and current.amount_cents == owed:
            return current, invoice.number or ""
        if current is not None:  # it asked for a balance that is no more
            current.status, current.updated_at = OnlinePaymentStatus.SUPERSEDED.value, now
            await session.flush()
        attempt = await payments.attempts_for_invoice(invoice.id)
        row = await payments.add_once(
            id=uuid.uuid5(ONLINE_PAYMENT_NAMESPACE, f"{invoice.id}:{attempt}"),
            invoice_id=invoice.id,
            org_id=invoice.org_id,
            customer_id=invoice.customer_id,
            attempt=attempt,
            amount_cents=owed,
            currency=invoice.currency,
            provider=provider,
            provider_payment_id=None,
            client_secret=None,
            status=OnlinePaymentStatus.REQUIRES_PAYMENT.value,
            created_at=now,
            updated_at=now,
        )
        if row is None:
            raise Conflict("another payment of this invoice started at the same time; try again")
        return row, invoice.number or ""


async def _record_answer(
    session: AsyncSession, caller: Caller, row_id: uuid.UUID, intent: IntentResult, now: datetime
) -> tuple[InvoiceOnlinePayment, DomainError | None]:
    """Step 3, under the invoice's lock: the provider's answer recorded on the attempt once,
    and the balance checked again. The refusal is raised after the commit (what was recorded
    stays: a webhook about the intent finds its attempt)."""
    async with acting_as_system(session, caller):
        payments = InvoiceOnlinePaymentRepository(session)
        row = await payments.get_by_id(row_id)
        if row is None:
            raise NotFound("no such online payment")
        invoice = await get_invoice(session, row.invoice_id, lock=True)
        row = await payments.lock_by_id(row_id)
        assert row is not None
        if row.status == OnlinePaymentStatus.SUCCEEDED:
            return row, None  # paid and settled already (the webhook came first)
        try:
            owed_now: int | None = _balance(invoice)
            refusal: DomainError | None = None
        except DomainError as closed:  # paid by hand meanwhile, or voided
            owed_now, refusal = None, closed
        if owed_now is not None and owed_now != row.amount_cents:
            refusal = Conflict(
                "the invoice's balance changed meanwhile; start the payment again", outstanding_cents=owed_now
            )
        if row.provider_payment_id is None:
            row.provider_payment_id, row.client_secret = (intent.provider_payment_id, intent.client_secret)
            row.updated_at = now
            if intent.status == OnlinePaymentStatus.SUCCEEDED:  # the local ledger pays at once
                await _settle(session, row, row.amount_cents, now)  # an excess: an alert
                return row, None
            if intent.status in (OnlinePaymentStatus.PROCESSING, OnlinePaymentStatus.FAILED):
                row.status = intent.status
        elif row.provider_payment_id != intent.provider_payment_id:
            log.warning(
                "invoice_intent_differs",
                online_payment_id=str(row.id),
                recorded=row.provider_payment_id,
                answered=intent.provider_payment_id,
            )
        if row.status == OnlinePaymentStatus.SUPERSEDED and refusal is None:
            refusal = Conflict(
                "the invoice's balance changed meanwhile; start the payment again", outstanding_cents=owed_now
            )
        elif refusal is not None and row.status in OPEN:
            row.status, row.updated_at = OnlinePaymentStatus.SUPERSEDED.value, now
        await session.flush()
        return row, refusal


async def _settle(
    session: AsyncSession, row: InvoiceOnlinePayment, received_cents: int, at: datetime
) -> None:
    """Put what the provider received on the invoice (as much as is owed), once."""
    invoice = await InvoiceRepository(session).get_with_children(row.invoice_id, lock=True)
    if invoice is None:
        raise NotFound("no such invoice")
    credited, excess = rules.online_credit(
        invoice.status, invoice.total_cents, invoice.paid_cents, received_cents
    )
    row.status = OnlinePaymentStatus.SUCCEEDED.value
    row.received_cents, row.credited_cents = received_cents, credited
    row.updated_at = at
    if credited > 0:
        paid, status = rules.apply_payment(invoice.status, invoice.total_cents, invoice.paid_cents, credited)
        payment = InvoicePayment(
            org_id=invoice.org_id,
            amount_cents=credited,
            method="card",
            reference=row.provider_payment_id,
            received_at=at,
            recorded_by=None,
            created_at=datetime.now(UTC),
        )
        invoice.payments.append(payment)
        invoice.paid_cents = paid
        if status is InvoiceStatus.PAID:
            invoice.status, invoice.paid_at = status.value, at
        _touch(invoice, datetime.now(UTC))
        await session.flush()
        row.invoice_payment_id = payment.id
    if excess > 0:
        await enqueue(
            session,
            "alert.invoice_overpaid",
            {
                "invoice_id": str(invoice.id),
                "online_payment_id": str(row.id),
                "provider_payment_id": row.provider_payment_id,
                "received_cents": received_cents,
                "credited_cents": credited,
                "excess_cents": excess,
                "currency": row.currency,
            },
            idempotency_key=f"alert.invoice_overpaid:{row.id}",
            org_id=invoice.org_id,
            aggregate_id=str(invoice.id),
        )
    await session.flush()


def _metadata_id(obj: dict[str, Any]) -> uuid.UUID | None:
    """The online payment id the intent carries in its metadata (we put it there)."""
    metadata = obj.get("metadata")
    value = metadata.get("online_payment_id") if isinstance(metadata, dict) else None
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def _reported(obj: dict[str, Any]) -> tuple[int | None, str | None]:
    """The amount received and the currency a payment_intent event reports."""
    amount = obj.get("amount_received", obj.get("amount"))
    currency = obj.get("currency")
    try:
        return (int(amount) if amount is not None else None, str(currency).upper() if currency else None)
    except (TypeError, ValueError):
        return None, None


async def apply_intent_event(
    session: AsyncSession, obj: dict[str, Any], succeeded: bool, at: datetime
) -> bool:
    """Apply a payment_intent event to the invoice payment it is about, as SYSTEM; False when
    no invoice payment has that intent (it may be a booking's)."""
    payments = InvoiceOnlinePaymentRepository(session)
    answered_meanwhile = _metadata_id(obj)
    invoice_id = await payments.invoice_of(obj.get("id"), answered_meanwhile)
    if invoice_id is None:
        return False
    # Locks in the order the start takes them (the invoice, then its attempt): the other
    # order could deadlock with a start recording the provider's answer at the same time.
    if await InvoiceRepository(session).get_with_children(invoice_id, lock=True) is None:
        return False
    row = await payments.lock_by_provider_id(obj.get("id"))
    if row is None and answered_meanwhile is not None and obj.get("id"):
        # The event came before the start recorded the provider's answer: the attempt is
        # found by the id the intent carries in its metadata, and gets the intent's id.
        row = await payments.lock_unanswered(answered_meanwhile)
        if row is not None:
            row.provider_payment_id = str(obj["id"])
    if row is None:
        return False
    if row.status == OnlinePaymentStatus.SUCCEEDED or (
        row.last_event_at is not None and row.last_event_at > at
    ):
        return True  # settled once already, or an older event than one applied
    if not succeeded:
        row.last_event_at = at
        if row.status in OPEN:
            row.status, row.updated_at = OnlinePaymentStatus.FAILED.value, at
        return True
    amount, currency = _reported(obj)
    if amount != row.amount_cents or currency != row.currency:
        log.warning(
            "invoice_payment_mismatch",
            online_payment_id=str(row.id),
            expected=(row.amount_cents, row.currency),
            reported=(amount, currency),
        )
        await enqueue(
            session,
            "alert.invoice_payment_mismatch",
            {
                "online_payment_id": str(row.id),
                "invoice_id": str(row.invoice_id),
                "expected_cents": row.amount_cents,
                "expected_currency": row.currency,
                "reported_cents": amount,
                "reported_currency": currency,
            },
            idempotency_key=(f"alert.invoice_payment_mismatch:{row.id}:{amount}:{currency}:{at.isoformat()}"),
            org_id=row.org_id,
            aggregate_id=str(row.invoice_id),
        )
        return True
    row.last_event_at = at
    await _settle(session, row, amount, at)
    return True


async def list_online_payments(session: AsyncSession, invoice_id: uuid.UUID) -> list[InvoiceOnlinePayment]:
    """An invoice's online payments, for who may see the invoice."""
    await get_invoice(session, invoice_id)
    return await InvoiceOnlinePaymentRepository(session).of_invoice(invoice_id)
