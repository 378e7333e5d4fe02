"""Invoice use cases: drafts, issuing with a gapless number, payments, voiding, overdue marking.

Issuing bumps the (org, year) counter row with INSERT ... ON CONFLICT DO UPDATE ... RETURNING in
the issuing transaction (`InvoiceRepository.next_number`). Concurrent issuers of one org queue
on that row lock until the holder commits; a rolled-back issue rolls its number back with it.
So numbers are sequential with no gaps and no duplicates, without a table lock or an advisory
lock.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.errors import InvalidTransition, NotFound, ValidationFailed
from dispatch.invoices import flows, rules
from dispatch.invoices.rules import LineInput, PricedLine
from dispatch.invoices.schemas import (
    InvoiceCreate,
    InvoiceOut,
    InvoiceSummary,
    InvoiceUpdate,
    LineItemIn,
    LineItemOut,
    PaymentIn,
    PaymentOut,
)
from dispatch.kit.pagination import Page, PageParams
from persistence.models import (
    Booking,
    Invoice,
    InvoiceLineItem,
    InvoicePayment,
    User,
)
from persistence.outbox import enqueue
from persistence.repositories.base import acting_as_system
from persistence.repositories.bookings import BookingRepository
from persistence.repositories.invoices import InvoiceRepository
from persistence.repositories.organizations import OrganizationRepository
from persistence.repositories.users import UserRepository
from persistence.session import Caller
from persistence.statuses import InvoiceStatus


def invoice_out(invoice: Invoice) -> InvoiceOut:
    """The invoice as callers read it, with what is still owed."""
    return InvoiceOut(
        **{
            name: getattr(invoice, name)
            for name in InvoiceOut.model_fields
            if name not in ("outstanding_cents", "line_items", "payments")
        },
        outstanding_cents=rules.outstanding_cents(invoice.total_cents, invoice.paid_cents),
        line_items=[LineItemOut.model_validate(line) for line in invoice.line_items],
        payments=[PaymentOut.model_validate(payment) for payment in invoice.payments],
    )


async def get_invoice(session: AsyncSession, invoice_id: uuid.UUID, *, lock: bool = False) -> Invoice:
    """An invoice the caller may see (RLS: its org's staff, its customer once issued, admins)
    with lines and payments; optionally row-locked for a change."""
    invoice = await InvoiceRepository(session).get_with_children(invoice_id, lock=lock)
    if invoice is None:
        raise NotFound("no such invoice")
    return invoice


async def list_invoices(
    session: AsyncSession,
    status: str | None,
    customer_id: uuid.UUID | None,
    booking_id: uuid.UUID | None,
    params: PageParams,
) -> Page[InvoiceSummary]:
    """Invoices the caller may see, newest first."""
    invoices = InvoiceRepository(session)
    statement = invoices.listing(status=status, customer_id=customer_id, booking_id=booking_id)
    rows, total = await invoices.page(statement, limit=params.limit, offset=params.offset)
    return Page.of([InvoiceSummary.model_validate(row) for row in rows], total, params)


def _price(lines: list[LineItemIn]) -> list[PricedLine]:
    return [
        rules.price_line(LineInput(line.description, line.quantity, line.unit_price_cents, line.tax_rate_bp))
        for line in lines
    ]


def _booking_line(booking: Booking, tax_rate_bp: int) -> list[PricedLine]:
    """The default line of an invoice made from a booking: the move at its booked price."""
    day = booking.window_start.date().isoformat()
    description = (
        f"Move on {day}: {booking.pickup_address} to {booking.dropoff_address}"
        f" ({booking.volume_m3} m3, crew of {booking.crew_size})"
    )
    return [rules.price_line(LineInput(description[:500], Decimal(1), booking.price_cents, tax_rate_bp))]


def _set_lines(invoice: Invoice, lines: list[PricedLine]) -> None:
    invoice.line_items = [
        InvoiceLineItem(
            org_id=invoice.org_id,
            position=position,
            description=line.description,
            quantity=line.quantity,
            unit_price_cents=line.unit_price_cents,
            tax_rate_bp=line.tax_rate_bp,
            amount_cents=line.amount_cents,
            tax_cents=line.tax_cents,
        )
        for position, line in enumerate(lines, start=1)
    ]
    totals = rules.totals(lines)
    invoice.subtotal_cents, invoice.tax_cents = totals.subtotal_cents, totals.tax_cents
    invoice.total_cents = totals.total_cents


async def _customer_of_org(
    session: AsyncSession, caller: Caller, org_id: uuid.UUID, customer_id: uuid.UUID
) -> User:
    """A customer the organization has served (a booking the caller can see says so); their
    user row is hidden from staff by RLS, so it is read as the system once that holds."""
    if not await InvoiceRepository(session).has_served(org_id, customer_id):
        raise NotFound("no such customer of this organization", field="customer_id")
    async with acting_as_system(session, caller):
        customer = await UserRepository(session).get_by_id(customer_id)
    if customer is None or customer.role != "customer":
        raise NotFound("no such customer of this organization", field="customer_id")
    return customer


def _org_for(caller: Caller, request: InvoiceCreate, booking: Booking | None) -> uuid.UUID:
    if booking is not None:
        return booking.org_id
    if caller.is_admin and request.org_id:
        return request.org_id
    if caller.org_id is None:
        raise ValidationFailed("say which organization invoices: give booking_id or org_id", field="org_id")
    return caller.org_id


async def create_draft(
    session: AsyncSession, caller: Caller, request: InvoiceCreate, now: datetime | None = None
) -> Invoice:
    """Use case: a draft invoice (no number yet), from a booking or with explicit lines."""
    now = now or datetime.now(UTC)
    booking = None
    if request.booking_id is not None:
        booking = await BookingRepository(session).get_by_id(request.booking_id)
        if booking is None:
            raise NotFound("no such booking", field="booking_id")
        if request.customer_id and request.customer_id != booking.customer_id:
            raise ValidationFailed("customer_id differs from the booking's customer", field="customer_id")
        if request.currency and request.currency != booking.currency:
            raise ValidationFailed(f"the booking is priced in {booking.currency}", field="currency")
    elif request.customer_id is None:
        raise ValidationFailed("give booking_id, or customer_id with line_items", field="customer_id")
    elif not request.line_items:
        raise ValidationFailed("an invoice without a booking needs line_items", field="line_items")
    org_id = _org_for(caller, request, booking)
    org = await OrganizationRepository(session).get_by_id(org_id)
    if org is None:
        raise NotFound("no such organization", field="org_id")
    customer_id = booking.customer_id if booking else request.customer_id
    assert customer_id is not None
    customer = await _customer_of_org(session, caller, org.id, customer_id)
    currency = booking.currency if booking else (request.currency or org.currency)
    invoice = Invoice(
        org_id=org.id,
        customer_id=customer.id,
        booking_id=booking.id if booking else None,
        status=InvoiceStatus.DRAFT.value,
        currency=currency,
        paid_cents=0,
        payment_terms_days=request.payment_terms_days,
        bill_to_name=customer.full_name or (customer.email or ""),
        bill_to_email=customer.email,
        notes=request.notes,
        payment_instructions=request.payment_instructions,
        created_by=caller.user_id,
        version=1,
        created_at=now,
        updated_at=now,
    )
    if request.line_items:
        _set_lines(invoice, _price(request.line_items))
    else:
        assert booking is not None
        _set_lines(invoice, _booking_line(booking, request.tax_rate_bp))
    invoice.payments = []
    session.add(invoice)
    await session.flush()
    return invoice


def _touch(invoice: Invoice, now: datetime) -> None:
    invoice.version += 1
    invoice.updated_at = now


async def update_draft(
    session: AsyncSession, invoice_id: uuid.UUID, request: InvoiceUpdate, now: datetime | None = None
) -> Invoice:
    now = now or datetime.now(UTC)
    invoice = await get_invoice(session, invoice_id, lock=True)
    if invoice.status != InvoiceStatus.DRAFT:
        raise InvalidTransition("only drafts can be edited; void and re-issue instead", status=invoice.status)
    if request.line_items is not None:
        invoice.line_items.clear()
        await session.flush()  # old positions go before new ones take them (unique per invoice)
        _set_lines(invoice, _price(request.line_items))
    if request.payment_terms_days is not None:
        invoice.payment_terms_days = request.payment_terms_days
    if request.notes is not None:
        invoice.notes = request.notes
    if request.payment_instructions is not None:
        invoice.payment_instructions = request.payment_instructions
    _touch(invoice, now)
    await session.flush()
    return invoice


def local_date(moment: datetime, timezone: str) -> date:
    """The calendar day at `moment` where the organization is (UTC if its zone is unknown)."""
    try:
        return moment.astimezone(ZoneInfo(timezone)).date()
    except (ZoneInfoNotFoundError, ValueError):
        return moment.astimezone(UTC).date()


def download_path(invoice_id: uuid.UUID) -> str:
    return f"/api/v1/invoices/{invoice_id}/pdf"


async def issue(
    session: AsyncSession,
    caller: Caller,
    invoice_id: uuid.UUID,
    public_base_url: str,
    now: datetime | None = None,
) -> Invoice:
    """Use case: number the draft, date it, and queue its email (linking to the PDF under
    `public_base_url`), in one transaction."""
    now = now or datetime.now(UTC)
    invoice = await get_invoice(session, invoice_id, lock=True)
    rules.check_transition(invoice.status, InvoiceStatus.ISSUED)
    if invoice.total_cents <= 0:
        raise ValidationFailed("an invoice needs a positive total to be issued", field="line_items")
    org = await OrganizationRepository(session).get_by_id(invoice.org_id)
    assert org is not None  # the invoice's org is visible to whoever sees the invoice
    issue_date = local_date(now, org.timezone)
    sequence = await InvoiceRepository(session).next_number(org.id, issue_date.year)
    invoice.number = rules.invoice_number(issue_date.year, org.code, sequence)
    invoice.year, invoice.sequence = issue_date.year, sequence
    invoice.status = InvoiceStatus.ISSUED.value
    invoice.issue_date = issue_date
    invoice.due_date = rules.due_date(issue_date, invoice.payment_terms_days)
    invoice.issued_at = now
    _touch(invoice, now)
    await enqueue(
        session,
        "notify.invoice_delivery",
        {
            "user_id": str(invoice.customer_id),
            "context": {
                "invoice_number": invoice.number,
                "total_cents": invoice.total_cents,
                "currency": invoice.currency,
                "org_name": org.name,
                "customer_name": invoice.bill_to_name,
                "due_date": invoice.due_date.isoformat(),
                "download_url": public_base_url.rstrip("/") + download_path(invoice.id),
            },
        },
        idempotency_key=f"notify.invoice_delivery:{invoice.id}",
        org_id=invoice.org_id,
        aggregate_id=str(invoice.id),
    )
    await session.flush()
    await flows.enqueue_render(session, invoice)
    return invoice


async def record_payment(
    session: AsyncSession,
    caller: Caller,
    invoice_id: uuid.UUID,
    payment: PaymentIn,
    now: datetime | None = None,
) -> Invoice:
    """Use case: money received (partial or full); the invoice is paid once nothing is owed."""
    now = now or datetime.now(UTC)
    invoice = await get_invoice(session, invoice_id, lock=True)
    paid, status = rules.apply_payment(
        invoice.status, invoice.total_cents, invoice.paid_cents, payment.amount_cents
    )
    received_at = payment.received_at or now
    invoice.payments.append(
        InvoicePayment(
            org_id=invoice.org_id,
            amount_cents=payment.amount_cents,
            method=payment.method,
            reference=payment.reference,
            received_at=received_at,
            recorded_by=caller.user_id,
            created_at=now,
        )
    )
    invoice.paid_cents = paid
    if status is InvoiceStatus.PAID:
        invoice.status, invoice.paid_at = status.value, received_at
    _touch(invoice, now)
    await session.flush()
    return invoice


async def void(
    session: AsyncSession, invoice_id: uuid.UUID, reason: str, now: datetime | None = None
) -> Invoice:
    """Use case: cancel an unpaid invoice; an issued number stays used (no gaps, no reuse)."""
    now = now or datetime.now(UTC)
    invoice = await get_invoice(session, invoice_id, lock=True)
    rules.check_voidable(invoice.status, invoice.paid_cents)
    invoice.status, invoice.void_reason, invoice.voided_at = InvoiceStatus.VOID.value, reason, now
    _touch(invoice, now)
    await session.flush()
    return invoice
