"""Invoice rules without a database: numbers, cents arithmetic, the status machine, payments,
and the PDF renderer (pure: data in, bytes out)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from dispatch.errors import Conflict, InvalidTransition
from dispatch.invoices import rules
from dispatch.invoices.pdf import InvoicePdf, PdfLine, render_invoice_pdf
from dispatch.invoices.rules import LineInput
from persistence.statuses import InvoiceStatus


def test_number_format_is_year_org_code_and_five_digits() -> None:
    assert rules.invoice_number(2026, "ACME", 1) == "INV-2026-ACME-00001"
    assert rules.invoice_number(2026, "AB12CD34EF56", 99_999) == "INV-2026-AB12CD34EF56-99999"


@pytest.mark.parametrize("sequence", [0, -1, 100_000])
def test_number_out_of_range_is_refused(sequence: int) -> None:
    with pytest.raises(Conflict):
        rules.invoice_number(2026, "ACME", sequence)


def test_line_amount_and_tax_round_half_up_per_line() -> None:
    line = rules.price_line(LineInput("Crew hours", Decimal("3.5"), 4_999, 1_900))
    assert line.amount_cents == 17_497  # 17496.5 -> 17497
    assert line.tax_cents == 3_324  # 3324.43 -> 3324
    half = rules.price_line(LineInput("Boxes", Decimal("1"), 250, 1_000))
    assert half.tax_cents == 25
    up = rules.price_line(LineInput("Tape", Decimal("1"), 5, 1_000))
    assert up.tax_cents == 1  # 0.5 cent rounds up, not to even


def test_totals_sum_lines() -> None:
    lines = [
        rules.price_line(LineInput("Move", Decimal(1), 30_000, 1_900)),
        rules.price_line(LineInput("Packing", Decimal(2), 2_500, 700)),
    ]
    totals = rules.totals(lines)
    assert (totals.subtotal_cents, totals.tax_cents, totals.total_cents) == (35_000, 6_050, 41_050)


@pytest.mark.parametrize(
    "line",
    [
        LineInput("x", Decimal(0), 100),
        LineInput("x", Decimal(1), -1),
        LineInput("x", Decimal(1), 100, 10_001),
    ],
)
def test_invalid_lines_are_refused(line: LineInput) -> None:
    with pytest.raises(ValueError):
        rules.price_line(line)


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        ("draft", InvoiceStatus.ISSUED, True),
        ("draft", InvoiceStatus.PAID, False),
        ("issued", InvoiceStatus.PAID, True),
        ("issued", InvoiceStatus.OVERDUE, True),
        ("overdue", InvoiceStatus.PAID, True),
        ("overdue", InvoiceStatus.ISSUED, False),
        ("paid", InvoiceStatus.VOID, False),
        ("void", InvoiceStatus.ISSUED, False),
        ("issued", InvoiceStatus.ISSUED, False),
    ],
)
def test_status_machine(current: str, target: InvoiceStatus, allowed: bool) -> None:
    if allowed:
        rules.check_transition(current, target)
    else:
        with pytest.raises(InvalidTransition):
            rules.check_transition(current, target)


def test_partial_then_full_payment() -> None:
    paid, status = rules.apply_payment("issued", 10_000, 0, 4_000)
    assert (paid, status) == (4_000, InvoiceStatus.ISSUED)
    paid, status = rules.apply_payment("overdue", 10_000, paid, 6_000)
    assert (paid, status) == (10_000, InvoiceStatus.PAID)


def test_overpayment_is_a_conflict_naming_what_is_owed() -> None:
    with pytest.raises(Conflict) as caught:
        rules.apply_payment("issued", 10_000, 9_000, 1_001)
    assert caught.value.extra["outstanding_cents"] == 1_000


@pytest.mark.parametrize("status", ["draft", "paid", "void"])
def test_payments_only_on_open_invoices(status: str) -> None:
    with pytest.raises(InvalidTransition):
        rules.apply_payment(status, 10_000, 0, 100)


def test_void_needs_no_payments() -> None:
    rules.check_voidable("issued", 0)
    rules.check_voidable("draft", 0)
    with pytest.raises(Conflict):
        rules.check_voidable("issued", 1)
    with pytest.raises(InvalidTransition):
        rules.check_voidable("paid", 0)


def test_overdue_only_after_the_due_day() -> None:
    due = rules.due_date(date(2026, 1, 30), 14)
    assert due == date(2026, 2, 13)
    assert not rules.is_overdue("issued", due, date(2026, 2, 13))
    assert rules.is_overdue("issued", due, date(2026, 2, 14))
    assert not rules.is_overdue("paid", due, date(2026, 3, 1))


def test_pdf_rendering_is_deterministic() -> None:
    view = InvoicePdf(
        number="INV-2026-ACME-00007",
        status="issued",
        currency="EUR",
        issue_date=date(2026, 5, 1),
        due_date=date(2026, 5, 15),
        mover_name="Acme Moving",
        mover_code="ACME",
        mover_email="billing@acme.test",
        mover_phone="",
        customer_name="Ada",
        customer_email="ada@example.test",
        lines=(PdfLine("Move", Decimal(1), 30_000, 1_900, 30_000),),
        subtotal_cents=30_000,
        tax_cents=5_700,
        total_cents=35_700,
        paid_cents=0,
        payment_instructions="",
    )
    first = render_invoice_pdf(view)
    assert first.startswith(b"%PDF-") and first == render_invoice_pdf(view)


@pytest.mark.parametrize(
    ("status", "paid", "received", "expected"),
    [
        ("issued", 0, 35_700, (35_700, 0)),  # the whole balance
        ("overdue", 10_000, 25_700, (25_700, 0)),  # the rest after a part-payment by hand
        ("issued", 5_700, 35_700, (30_000, 5_700)),  # a superseded intent: only what is owed
        ("paid", 35_700, 30_000, (0, 30_000)),  # paid meanwhile: all of it to refund
        ("void", 0, 35_700, (0, 35_700)),
        ("issued", 0, 0, (0, 0)),
    ],
)
def test_an_online_payment_credits_what_is_owed_and_reports_the_excess(
    status: str, paid: int, received: int, expected: tuple[int, int]
) -> None:
    assert rules.online_credit(status, 35_700, paid, received) == expected
