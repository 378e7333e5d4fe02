"""The invoice PDF: rendered from the invoice as it is now, stored through the storage port,
recorded as a document, and re-rendered only when the invoice has changed since.

Runs outside any request transaction (the outbox's `invoice.render_pdf` topic after issuing,
or a download): a short read, then rendering and the upload with no transaction open, then a
short write. Keys are derived from the invoice version, so two
renders of the same version write the same object and one document row.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.errors import Unavailable
from dispatch.invoices.pdf import InvoicePdf, PdfLine, render_invoice_pdf
from persistence.integrations.email import DeliveryFailed
from persistence.models import Invoice, Organization
from persistence.outbox import OutboxItem, enqueue
from persistence.repositories.invoices import InvoiceRepository
from persistence.repositories.organizations import OrganizationRepository
from persistence.session import SYSTEM, tenant_session
from persistence.storage import ObjectMissing, StorageError, StoragePort

log = structlog.get_logger("movehub.invoices")
PDF = "application/pdf"
RENDER_PDF = "invoice.render_pdf"


@dataclass(frozen=True, slots=True)
class RenderedPdf:
    content: bytes
    filename: str


def pdf_key(invoice: Invoice) -> str:
    return f"invoices/{invoice.org_id.hex}/{invoice.id.hex}-v{invoice.version}.pdf"


def pdf_filename(invoice: Invoice) -> str:
    return f"{invoice.number or f'draft-{invoice.id.hex[:8]}'}.pdf"


def _view(invoice: Invoice, org: Organization) -> InvoicePdf:
    return InvoicePdf(
        number=invoice.number or "DRAFT",
        status=invoice.status,
        currency=invoice.currency,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        mover_name=org.name,
        mover_code=org.code,
        mover_email=org.contact_email or "",
        mover_phone=org.contact_phone or "",
        customer_name=invoice.bill_to_name,
        customer_email=invoice.bill_to_email or "",
        lines=tuple(
            PdfLine(
                line.description, line.quantity, line.unit_price_cents, line.tax_rate_bp, line.amount_cents
            )
            for line in invoice.line_items
        ),
        subtotal_cents=invoice.subtotal_cents,
        tax_cents=invoice.tax_cents,
        total_cents=invoice.total_cents,
        paid_cents=invoice.paid_cents,
        payment_instructions=invoice.payment_instructions,
        notes=invoice.notes,
    )


async def _load(invoice_id: uuid.UUID) -> tuple[Invoice, Organization, str | None]:
    async with tenant_session(SYSTEM) as session:
        invoices = InvoiceRepository(session)
        invoice = await invoices.get_with_children(invoice_id)
        if invoice is None:
            raise LookupError(f"invoice {invoice_id} is gone")
        org = await OrganizationRepository(session).get_by_id(invoice.org_id)
        assert org is not None
        return invoice, org, await invoices.stored_pdf_key(invoice)


async def _record(invoice: Invoice, key: str, content: bytes, now: datetime) -> None:
    async with tenant_session(SYSTEM) as session:
        await InvoiceRepository(session).record_pdf(
            invoice,
            {
                "org_id": invoice.org_id,
                "owner_user_id": None,
                "purpose": "invoice_pdf",
                "storage_key": key,
                "content_type": PDF,
                "size_bytes": len(content),
                "sha256": hashlib.sha256(content).hexdigest(),
                "original_name": pdf_filename(invoice),
                "status": "stored",
                "created_at": now,
                "stored_at": now,
            },
        )


async def ensure_pdf(invoice_id: uuid.UUID, storage: StoragePort, now: datetime | None = None) -> RenderedPdf:
    """The PDF of the invoice's current version: the stored one, or rendered and stored now."""
    invoice, org, stored_key = await _load(invoice_id)
    if stored_key is not None:
        try:
            return RenderedPdf(await storage.get(stored_key), pdf_filename(invoice))
        except ObjectMissing:
            log.warning("invoice_pdf_missing", invoice_id=str(invoice_id), key=stored_key)
    content = await asyncio.to_thread(render_invoice_pdf, _view(invoice, org))
    key = pdf_key(invoice)
    try:
        await storage.put(key, content, PDF)
    except StorageError as exc:
        raise Unavailable("file storage is unavailable; try again shortly") from exc
    await _record(invoice, key, content, now or datetime.now(UTC))
    return RenderedPdf(content, pdf_filename(invoice))


async def enqueue_render(session: AsyncSession, invoice: Invoice) -> None:
    """Queue the PDF of this version in the transaction that made it (issuing); the outbox
    renders and stores it after the commit, retrying while storage is away."""
    await enqueue(
        session,
        RENDER_PDF,
        {"invoice_id": str(invoice.id), "version": invoice.version},
        idempotency_key=f"{RENDER_PDF}:{invoice.id}:{invoice.version}",
        org_id=invoice.org_id,
        aggregate_id=str(invoice.id),
    )


async def render_pdf(storage: StoragePort, item: OutboxItem) -> None:
    """The `invoice.render_pdf` handler: render and store the current version (a no-op when it
    is stored already); a download renders on demand meanwhile."""
    try:
        invoice_id = uuid.UUID(str(item.payload["invoice_id"]))
    except (KeyError, ValueError) as exc:
        raise DeliveryFailed(
            f"invoice.render_pdf without an invoice id: {item.payload!r}", retryable=False
        ) from exc
    try:
        await ensure_pdf(invoice_id, storage)
    except LookupError as exc:
        raise DeliveryFailed(str(exc), retryable=False) from exc
    except Unavailable as exc:
        raise DeliveryFailed(f"invoice {invoice_id}: {exc}", retryable=True) from exc
