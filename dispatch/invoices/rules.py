"""Invoice rules as pure functions: numbers, line and tax arithmetic in cents, the status
machine, payments and due dates."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from dispatch.errors import Conflict, InvalidTransition
from persistence.statuses import InvoiceStatus

MAX_SEQUENCE: Final = 99_999  # five digits per org and year
BASIS_POINTS: Final = 10_000  # 100 % = 10000 bp


TRANSITIONS: Final[dict[InvoiceStatus, frozenset[InvoiceStatus]]] = {
    InvoiceStatus.DRAFT: frozenset({InvoiceStatus.ISSUED, InvoiceStatus.VOID}),
    InvoiceStatus.ISSUED: frozenset({InvoiceStatus.PAID, InvoiceStatus.OVERDUE, InvoiceStatus.VOID}),
    InvoiceStatus.OVERDUE: frozenset({InvoiceStatus.PAID, InvoiceStatus.VOID}),
    InvoiceStatus.PAID: frozenset(),
    InvoiceStatus.VOID: frozenset(),
}
# Statuses in which money is still owed and payments may be recorded.
OPEN_STATUSES: Final = frozenset({InvoiceStatus.ISSUED, InvoiceStatus.OVERDUE})


def check_transition(current: str, target: InvoiceStatus) -> None:
    """Raise InvalidTransition (409) unless `current -> target` is an edge of the machine."""
    if target not in TRANSITIONS[InvoiceStatus(current)]:
        raise InvalidTransition(
            f"an invoice that is {current} cannot become {target.value}", status=current, target=target.value
        )


def invoice_number(year: int, org_code: str, sequence: int) -> str:
    """`INV-<year>-<org code>-<5 digits>`, e.g. INV-2026-ACME-00042."""
    if not 1 <= sequence <= MAX_SEQUENCE:
        raise Conflict(f"invoice numbers for {year} are used up (at most {MAX_SEQUENCE})")
    return f"INV-{year:04d}-{org_code}-{sequence:05d}"


@dataclass(frozen=True, slots=True)
class LineInput:
    description: str
    quantity: Decimal
    unit_price_cents: int
    tax_rate_bp: int = 0


@dataclass(frozen=True, slots=True)
class PricedLine:
    description: str
    quantity: Decimal
    unit_price_cents: int
    tax_rate_bp: int
    amount_cents: int
    tax_cents: int


@dataclass(frozen=True, slots=True)
class Totals:
    subtotal_cents: int
    tax_cents: int
    total_cents: int


def _round_cents(value: Decimal) -> int:
    """Half a cent rounds away from zero (commercial rounding), never banker's rounding."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def price_line(line: LineInput) -> PricedLine:
    """Net amount = quantity x unit price; tax = net x rate, each rounded to the cent per line."""
    if line.quantity <= 0:
        raise ValueError("quantity must be positive")
    if line.unit_price_cents < 0 or not 0 <= line.tax_rate_bp <= BASIS_POINTS:
        raise ValueError("unit price must be >= 0 and tax rate within 0..10000 bp")
    amount = _round_cents(line.quantity * line.unit_price_cents)
    tax = _round_cents(Decimal(amount) * line.tax_rate_bp / BASIS_POINTS)
    return PricedLine(line.description, line.quantity, line.unit_price_cents, line.tax_rate_bp, amount, tax)


def totals(lines: Iterable[PricedLine]) -> Totals:
    subtotal = tax = 0
    for line in lines:
        subtotal += line.amount_cents
        tax += line.tax_cents
    return Totals(subtotal, tax, subtotal + tax)


def due_date(issue_date: date, payment_terms_days: int) -> date:
    return issue_date + timedelta(days=payment_terms_days)


def outstanding_cents(total_cents: int, paid_cents: int) -> int:
    return max(0, total_cents - paid_cents)


def apply_payment(
    status: str, total_cents: int, paid_cents: int, amount_cents: int
) -> tuple[int, InvoiceStatus]:
    """What a payment of `amount_cents` makes of the invoice: (paid so far, new status).

    Only issued or overdue invoices take payments; paying more than is outstanding is refused
    (a conflict with the invoice's state, not a malformed request)."""
    if amount_cents <= 0:
        raise ValueError("a payment must be positive")
    if InvoiceStatus(status) not in OPEN_STATUSES:
        raise InvalidTransition(f"an invoice that is {status} takes no payments", status=status)
    owed = outstanding_cents(total_cents, paid_cents)
    if amount_cents > owed:
        raise Conflict(f"the payment exceeds what is outstanding ({owed} cents)", outstanding_cents=owed)
    paid = paid_cents + amount_cents
    return paid, InvoiceStatus.PAID if paid == total_cents else InvoiceStatus(status)


def check_voidable(status: str, paid_cents: int) -> None:
    """Drafts and unpaid issued/overdue invoices may be voided; money received must be
    refunded first, so an invoice with payments stays."""
    check_transition(status, InvoiceStatus.VOID)
    if paid_cents > 0:
        raise Conflict("an invoice with recorded payments cannot be voided", paid_cents=paid_cents)


def is_overdue(status: str, due: date | None, today: date) -> bool:
    """Issued and past its due date (the due date itself is still on time)."""
    return status == InvoiceStatus.ISSUED and due is not None and today > due


def online_credit(status: str, total_cents: int, paid_cents: int, received_cents: int) -> tuple[int, int]:
    """What a settled online payment of `received_cents` puts on the invoice: (credited,
    excess). Only what is still owed on an open invoice is credited (a payment recorded by hand
    meanwhile, or an invoice voided or paid since, leaves an excess to refund)."""
    if received_cents <= 0:
        return 0, 0
    owed = outstanding_cents(total_cents, paid_cents) if InvoiceStatus(status) in OPEN_STATUSES else 0
    credited = min(received_cents, owed)
    return credited, received_cents - credited
