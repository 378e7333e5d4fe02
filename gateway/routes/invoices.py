"""Routes: invoices (drafts, issuing, payments, voiding) and their PDF."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import Response

from dispatch.errors import NotFound
from dispatch.invoices import flows, online, service
from dispatch.invoices.schemas import (
    InvoiceCreate,
    InvoiceOut,
    InvoiceStatusName,
    InvoiceSummary,
    InvoiceUpdate,
    OnlinePaymentOut,
    PaymentIn,
    VoidIn,
)
from dispatch.kit.pagination import Page, PageParams
from gateway.deps import (
    CurrentCaller,
    CustomerCaller,
    PaymentsDep,
    SessionDep,
    SettingsDep,
    StaffCaller,
    StorageDep,
)

router = APIRouter(tags=["invoices"])
Paging = Annotated[PageParams, Query()]


@router.post("/invoices", response_model=InvoiceOut, status_code=status.HTTP_201_CREATED)
async def create_invoice(payload: InvoiceCreate, caller: StaffCaller, session: SessionDep) -> InvoiceOut:
    """A draft (no number yet). From a booking, its customer and a line at the booked price
    (tax from `tax_rate_bp`) are the defaults; or give `customer_id` and `line_items`."""
    return service.invoice_out(await service.create_draft(session, caller, payload))


@router.get("/invoices", response_model=Page[InvoiceSummary])
async def list_invoices(
    _: CurrentCaller,
    session: SessionDep,
    paging: Paging,
    status: Annotated[InvoiceStatusName | None, Query()] = None,
    customer_id: Annotated[uuid.UUID | None, Query()] = None,
    booking_id: Annotated[uuid.UUID | None, Query()] = None,
) -> Page[InvoiceSummary]:
    """Staff: their organization's invoices; customers: their own issued ones; admins: all."""
    return await service.list_invoices(session, status, customer_id, booking_id, paging)


@router.get("/invoices/{invoice_id}", response_model=InvoiceOut)
async def get_invoice(invoice_id: uuid.UUID, _: CurrentCaller, session: SessionDep) -> InvoiceOut:
    return service.invoice_out(await service.get_invoice(session, invoice_id))


@router.patch("/invoices/{invoice_id}", response_model=InvoiceOut)
async def update_invoice(
    invoice_id: uuid.UUID, payload: InvoiceUpdate, _: StaffCaller, session: SessionDep
) -> InvoiceOut:
    """Edit a draft (lines replace the old ones); issued invoices are voided, not edited."""
    return service.invoice_out(await service.update_draft(session, invoice_id, payload))


@router.post("/invoices/{invoice_id}/issue", response_model=InvoiceOut)
async def issue_invoice(
    invoice_id: uuid.UUID, caller: StaffCaller, session: SessionDep, settings: SettingsDep
) -> InvoiceOut:
    """Number it (`INV-<year>-<org code>-<5 digits>`, gapless per org and year), date it, and
    email it to the customer; the outbox renders and stores the PDF after the commit."""
    invoice = await service.issue(session, caller, invoice_id, settings.public_base_url)
    return service.invoice_out(invoice)


@router.post(
    "/invoices/{invoice_id}/payments", response_model=InvoiceOut, status_code=status.HTTP_201_CREATED
)
async def record_payment(
    invoice_id: uuid.UUID, payload: PaymentIn, caller: StaffCaller, session: SessionDep
) -> InvoiceOut:
    """Money received, partial or full: paid once nothing is outstanding; more than the
    outstanding amount is refused (409)."""
    return service.invoice_out(await service.record_payment(session, caller, invoice_id, payload))


@router.post(
    "/invoices/{invoice_id}/pay", response_model=OnlinePaymentOut, status_code=status.HTTP_201_CREATED
)
async def pay_invoice(
    invoice_id: uuid.UUID, caller: CustomerCaller, payments: PaymentsDep
) -> OnlinePaymentOut:
    """The invoice's customer pays its balance online: a Stripe PaymentIntent (its
    `client_secret` goes to Stripe.js), or the local ledger, which pays at once. One open
    attempt per invoice, returned again while the balance is unchanged; after a payment
    recorded by hand a new one asks for the rest. The verified webhook settles it: paid once
    the payments reach the total. 409: not issued or overdue, nothing outstanding, or the
    balance changed while the provider answered; 503: the provider did not answer (try again;
    the same attempt is asked for with the same key). No request session: the service opens
    its own short transactions, none open while the provider answers."""
    return OnlinePaymentOut.model_validate(await online.start(caller, invoice_id, payments))


@router.get("/invoices/{invoice_id}/online-payments", response_model=list[OnlinePaymentOut])
async def invoice_online_payments(
    invoice_id: uuid.UUID, caller: CurrentCaller, session: SessionDep
) -> list[OnlinePaymentOut]:
    """The invoice's online payments, oldest attempt first (the client secret only for the
    customer)."""
    rows = await online.list_online_payments(session, invoice_id)
    answers = [OnlinePaymentOut.model_validate(row) for row in rows]
    if caller.role != "customer":
        answers = [answer.model_copy(update={"client_secret": None}) for answer in answers]
    return answers


@router.post("/invoices/{invoice_id}/void", response_model=InvoiceOut)
async def void_invoice(
    invoice_id: uuid.UUID, payload: VoidIn, _: StaffCaller, session: SessionDep
) -> InvoiceOut:
    """Cancel an unpaid invoice; its number stays used."""
    return service.invoice_out(await service.void(session, invoice_id, payload.reason))


@router.get(
    "/invoices/{invoice_id}/pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
async def invoice_pdf(
    invoice_id: uuid.UUID, caller: CurrentCaller, session: SessionDep, storage: StorageDep
) -> Response:
    """The PDF, for the invoice's customer, its organization's staff and platform admins."""
    invoice = await service.get_invoice(session, invoice_id)  # RLS decides who sees it
    if caller.role not in ("customer", "mover_admin", "dispatcher", "platform_admin"):
        raise NotFound("no such invoice")
    pdf = await flows.ensure_pdf(invoice.id, storage)
    return Response(
        pdf.content,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{pdf.filename}"',
            "Cache-Control": "private, no-store",
        },
    )
