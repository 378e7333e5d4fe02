"""Routes: cancellation with its refund preview, and the refunds themselves."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from dispatch.refunds import service
from dispatch.refunds.schemas import CancellationOut, CancellationPreview, CancelRequest, RefundOut
from gateway.deps import CurrentCaller, PlatformAdmin, SessionDep
from persistence.statuses import RefundStatus

router = APIRouter(tags=["refunds"])


@router.get("/bookings/{booking_id}/cancellation/preview", response_model=CancellationPreview)
async def preview(booking_id: uuid.UUID, caller: CurrentCaller, session: SessionDep) -> CancellationPreview:
    """What cancelling now would refund: tier by notice (>= 72 h 100 %, 48-72 h 75 %,
    24-48 h 50 %, < 24 h nothing; the organization may set its own tiers)."""
    return await service.preview(session, booking_id, caller)


@router.post("/bookings/{booking_id}/cancel", response_model=CancellationOut)
async def cancel(
    booking_id: uuid.UUID, payload: CancelRequest, caller: CurrentCaller, session: SessionDep
) -> CancellationOut:
    """Cancel and write the refund in one transaction; the outbox sends the refund after the
    commit (retried with backoff until it succeeds or is declared dead)."""
    booking, refund = await service.cancel(session, booking_id, caller, payload.reason_code, payload.note)
    return CancellationOut(
        booking_id=booking.id,
        status=booking.status,
        refund=RefundOut.model_validate(refund) if refund else None,
    )


@router.get("/refunds", response_model=list[RefundOut])
async def refunds(
    _: PlatformAdmin,
    session: SessionDep,
    status: Annotated[RefundStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[RefundOut]:
    """Platform admins: refunds by status (`dead` ones need a human)."""
    return [RefundOut.model_validate(r) for r in await service.list_refunds(session, status, limit, offset)]
