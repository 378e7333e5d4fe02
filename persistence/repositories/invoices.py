"""Invoice queries: one invoice with its lines and payments, filtered lists, the gapless number
counter, whether an organization has served a customer, the overdue sweep, and the stored PDF
of an invoice's version."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import selectinload

from persistence.models import Booking, Document, Invoice, InvoiceOnlinePayment
from persistence.repositories.base import Repository

# Concurrent issuers of one org queue on the counter row's lock until the holder commits; a
# rolled-back issue rolls its number back with it: sequential, no gaps, no duplicates.
_NEXT_NUMBER = text("""
INSERT INTO invoice_counters (org_id, year, last_number) VALUES (:org_id, :year, 1)
ON CONFLICT (org_id, year) DO UPDATE SET last_number = invoice_counters.last_number + 1
RETURNING last_number
""")

# The due date is a calendar day of the organization: overdue from the next local day on
# (an unknown zone name counts as UTC rather than failing the whole batch).
_MARK_OVERDUE = text("""
UPDATE invoices AS i SET status = 'overdue', overdue_at = :now, updated_at = :now,
  version = i.version + 1
FROM organizations AS o
WHERE o.id = i.org_id AND i.status = 'issued' AND i.due_date IS NOT NULL
  AND i.due_date < (:now AT TIME ZONE (CASE WHEN EXISTS (
        SELECT 1 FROM pg_timezone_names z WHERE z.name = o.timezone) THEN o.timezone
      ELSE 'UTC' END))::date
""")


def _with_children(statement: Select[Any]) -> Select[Any]:
    return statement.options(selectinload(Invoice.line_items), selectinload(Invoice.payments))


class InvoiceRepository(Repository[Invoice]):
    model = Invoice

    async def get_with_children(self, invoice_id: uuid.UUID, *, lock: bool = False) -> Invoice | None:
        """An invoice the caller may see with its lines and payments (what every answer shows);
        its row alone locked when the caller will change it."""
        statement = _with_children(select(Invoice).where(Invoice.id == invoice_id))
        if lock:  # read afresh: the caller may have read it unlocked earlier in this session
            statement = statement.with_for_update(of=Invoice).execution_options(populate_existing=True)
        invoice: Invoice | None = await self.session.scalar(statement)
        return invoice

    def listing(
        self,
        *,
        status: str | None = None,
        customer_id: uuid.UUID | None = None,
        booking_id: uuid.UUID | None = None,
    ) -> Select[Any]:
        """Invoices the caller may see (RLS decides whose), newest first."""
        statement = select(Invoice).order_by(Invoice.created_at.desc(), Invoice.id.desc())
        if status:
            statement = statement.where(Invoice.status == status)
        if customer_id:
            statement = statement.where(Invoice.customer_id == customer_id)
        if booking_id:
            statement = statement.where(Invoice.booking_id == booking_id)
        return statement

    async def next_number(self, org_id: uuid.UUID, year: int) -> int:
        """The organization's next invoice number of the year, its counter row locked until
        this transaction ends (the gapless numbering rests on that lock)."""
        result = await self.session.execute(_NEXT_NUMBER, {"org_id": org_id, "year": year})
        return int(result.scalar_one())

    async def has_served(self, org_id: uuid.UUID, customer_id: uuid.UUID) -> bool:
        """Whether the caller can see a booking of this customer with this organization: only
        a customer the organization has served can be invoiced by it."""
        served = await self.session.scalar(
            select(Booking.id).where(Booking.org_id == org_id, Booking.customer_id == customer_id).limit(1)
        )
        return served is not None

    async def mark_overdue(self, now: datetime) -> int:
        """Every issued invoice past its due date where its organization is becomes overdue;
        returns how many did."""
        result = await self.session.execute(_MARK_OVERDUE, {"now": now})
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def stored_pdf_key(self, invoice: Invoice) -> str | None:
        """Where the PDF of the invoice's current version is stored, if it has been."""
        if not invoice.pdf_document_id or invoice.pdf_version != invoice.version:
            return None
        key: str | None = await self.session.scalar(
            select(Document.storage_key).where(
                Document.id == invoice.pdf_document_id, Document.status == "stored"
            )
        )
        return key

    async def record_pdf(self, invoice: Invoice, document: dict[str, Any]) -> None:
        """Record a stored PDF as a document (once per storage key, so two renders of one
        version make one row) and point the invoice at it, never back at an older version."""
        await self.session.execute(
            insert(Document).values(**document).on_conflict_do_nothing(index_elements=["storage_key"])
        )
        document_id = await self.session.scalar(
            select(Document.id).where(Document.storage_key == document["storage_key"])
        )
        await self.session.execute(
            update(Invoice)
            .where(
                Invoice.id == invoice.id,
                (Invoice.pdf_version.is_(None)) | (Invoice.pdf_version < invoice.version),
            )
            .values(pdf_document_id=document_id, pdf_version=invoice.version)
        )


# An online payment in one of these states is still in play (one per invoice at most).
OPEN_ONLINE_STATUSES = ("requires_payment", "processing")


class InvoiceOnlinePaymentRepository(Repository[InvoiceOnlinePayment]):
    model = InvoiceOnlinePayment

    async def open_for_invoice(self, invoice_id: uuid.UUID) -> InvoiceOnlinePayment | None:
        """The invoice's online payment still in play (started, not settled), if any."""
        return await self.session.scalar(
            select(InvoiceOnlinePayment)
            .where(
                InvoiceOnlinePayment.invoice_id == invoice_id,
                InvoiceOnlinePayment.status.in_(OPEN_ONLINE_STATUSES),
            )
            .execution_options(populate_existing=True)
        )

    async def attempts_for_invoice(self, invoice_id: uuid.UUID) -> int:
        """How many online payments the invoice has had: numbers the next attempt."""
        return int(
            await self.session.scalar(
                select(func.count())
                .select_from(InvoiceOnlinePayment)
                .where(InvoiceOnlinePayment.invoice_id == invoice_id)
            )
            or 0
        )

    async def add_once(self, **values: Any) -> InvoiceOnlinePayment | None:
        """The new row, or None when a concurrent start took the attempt (or the invoice's one
        open slot, or the provider's id) first: the unique indexes decide."""
        row_id = await self.session.scalar(
            insert(InvoiceOnlinePayment)
            .values(**values)
            .on_conflict_do_nothing()
            .returning(InvoiceOnlinePayment.id)
        )
        if row_id is None:
            return None
        return await self.session.get_one(InvoiceOnlinePayment, row_id)

    async def lock_by_id(self, row_id: uuid.UUID) -> InvoiceOnlinePayment | None:
        """The attempt locked and read afresh (this session may have read it unlocked)."""
        return await self.session.scalar(
            select(InvoiceOnlinePayment)
            .where(InvoiceOnlinePayment.id == row_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    async def invoice_of(self, provider_payment_id: str | None, row_id: uuid.UUID | None) -> uuid.UUID | None:
        """The invoice an online payment belongs to, by the provider's id or else by the attempt's
        own id, read without a lock (the caller locks the invoice first, then the attempt)."""
        if provider_payment_id:
            found = await self.session.scalar(
                select(InvoiceOnlinePayment.invoice_id).where(
                    InvoiceOnlinePayment.provider_payment_id == provider_payment_id
                )
            )
            if found is not None:
                return found
        if row_id is None:
            return None
        return await self.session.scalar(
            select(InvoiceOnlinePayment.invoice_id).where(InvoiceOnlinePayment.id == row_id)
        )

    async def lock_by_provider_id(self, provider_payment_id: str | None) -> InvoiceOnlinePayment | None:
        """The online payment a provider event is about, locked while the event is applied."""
        if not provider_payment_id:
            return None
        return await self.session.scalar(
            select(InvoiceOnlinePayment)
            .where(InvoiceOnlinePayment.provider_payment_id == provider_payment_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    async def lock_unanswered(self, row_id: uuid.UUID) -> InvoiceOnlinePayment | None:
        """An attempt recorded before its provider answered (no provider id yet), locked."""
        return await self.session.scalar(
            select(InvoiceOnlinePayment)
            .where(InvoiceOnlinePayment.id == row_id, InvoiceOnlinePayment.provider_payment_id.is_(None))
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    async def of_invoice(self, invoice_id: uuid.UUID) -> list[InvoiceOnlinePayment]:
        """Every online payment of an invoice the caller may see, oldest attempt first."""
        return list(
            await self.session.scalars(
                select(InvoiceOnlinePayment)
                .where(InvoiceOnlinePayment.invoice_id == invoice_id)
                .order_by(InvoiceOnlinePayment.attempt)
            )
        )
