"""The invoice as a PDF (ReportLab): mover header, customer, line items, totals, status and
payment instructions. Pure: data in, bytes out; storing and sending it is the service's job."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from dispatch.notifications.rendering import money


@dataclass(frozen=True, slots=True)
class PdfLine:
    description: str
    quantity: Decimal
    unit_price_cents: int
    tax_rate_bp: int
    amount_cents: int


@dataclass(frozen=True, slots=True)
class InvoicePdf:
    """Everything printed on the invoice, already resolved from the database."""

    number: str
    status: str
    currency: str
    issue_date: date | None
    due_date: date | None
    mover_name: str
    mover_code: str
    mover_email: str
    mover_phone: str
    customer_name: str
    customer_email: str
    lines: tuple[PdfLine, ...]
    subtotal_cents: int
    tax_cents: int
    total_cents: int
    paid_cents: int
    payment_instructions: str
    notes: str = ""


STATUS_COLORS = {
    "paid": colors.HexColor("#1b7f3b"),
    "overdue": colors.HexColor("#b3261e"),
    "void": colors.HexColor("#666666"),
}


def _quantity(value: Decimal) -> str:
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _rate(bp: int) -> str:
    return f"{Decimal(bp) / 100:f}".rstrip("0").rstrip(".") + " %"


def _paragraph(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def render_invoice_pdf(invoice: InvoicePdf) -> bytes:
    styles = getSampleStyleSheet()
    body, small = (
        styles["BodyText"],
        ParagraphStyle("small", parent=styles["BodyText"], fontSize=8, leading=10),
    )
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=f"Invoice {invoice.number}",
        author=invoice.mover_name,
        # Same invoice, same bytes: no timestamp or random id inside,
        # so two renders of one version store one identical object.
        invariant=True,
    )
    contact = " · ".join(part for part in (invoice.mover_email, invoice.mover_phone) if part)
    status_style = ParagraphStyle(
        "status", parent=styles["Heading2"], textColor=STATUS_COLORS.get(invoice.status, colors.black)
    )
    flow: list[object] = [
        _paragraph(invoice.mover_name, styles["Title"]),
        _paragraph(f"Mover code {invoice.mover_code}" + (f" · {contact}" if contact else ""), small),
        Spacer(1, 6 * mm),
        _paragraph(f"Invoice {invoice.number}", styles["Heading1"]),
        _paragraph(f"Status: {invoice.status.upper()}", status_style),
        Table(
            [
                ["Issue date", str(invoice.issue_date or "-"), "Bill to", invoice.customer_name],
                ["Due date", str(invoice.due_date or "-"), "", invoice.customer_email],
            ],
            colWidths=[25 * mm, 45 * mm, 20 * mm, 84 * mm],
        ),
        Spacer(1, 6 * mm),
    ]
    rows: list[list[object]] = [["Description", "Qty", "Unit price", "Tax", "Amount"]]
    for line in invoice.lines:
        rows.append(
            [
                _paragraph(line.description, body),
                _quantity(line.quantity),
                money(line.unit_price_cents, invoice.currency),
                _rate(line.tax_rate_bp),
                money(line.amount_cents, invoice.currency),
            ]
        )
    rows += [
        ["", "", "", "Subtotal", money(invoice.subtotal_cents, invoice.currency)],
        ["", "", "", "Tax", money(invoice.tax_cents, invoice.currency)],
        ["", "", "", "Total", money(invoice.total_cents, invoice.currency)],
        ["", "", "", "Paid", money(invoice.paid_cents, invoice.currency)],
        ["", "", "", "Amount due", money(max(0, invoice.total_cents - invoice.paid_cents), invoice.currency)],
    ]
    table = Table(rows, colWidths=[78 * mm, 16 * mm, 30 * mm, 22 * mm, 28 * mm], repeatRows=1)
    last = len(invoice.lines)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
                ("LINEBELOW", (0, last), (-1, last), 0.4, colors.grey),
                ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("FONTNAME", (3, last + 3), (-1, last + 3), "Helvetica-Bold"),
                ("FONTNAME", (3, -1), (-1, -1), "Helvetica-Bold"),
            ]
        )
    )
    flow += [
        table,
        Spacer(1, 8 * mm),
        _paragraph("Payment instructions", styles["Heading3"]),
        _paragraph(
            invoice.payment_instructions
            or f"Please pay {invoice.number} by {invoice.due_date or 'the due date'},"
            f" quoting the invoice number as the payment reference.",
            body,
        ),
    ]
    if invoice.notes:
        flow += [Spacer(1, 4 * mm), _paragraph("Notes", styles["Heading3"]), _paragraph(invoice.notes, body)]
    document.build(flow)
    return buffer.getvalue()
