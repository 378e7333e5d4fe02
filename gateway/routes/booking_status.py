"""Routes: moving a booking through its lifecycle, and its audit trail."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body

from dispatch.bookings.schemas import BookingOut
from dispatch.bookings.service import booking_out
from dispatch.lifecycle import service
from dispatch.lifecycle.schemas import HistoryEntry, Reason, StatusChange
from gateway.deps import CurrentCaller, SessionDep

router = APIRouter(prefix="/bookings/{booking_id}", tags=["booking status"])
OptionalReason = Annotated[Reason | None, Body()]


async def _move(session: SessionDep, caller: CurrentCaller, booking_id: uuid.UUID, target: str,
                reason: Reason | None) -> BookingOut:
    booking, _ = await service.transition(session, booking_id, target, caller,
                                          reason=reason.reason if reason else "")
    return booking_out(booking)


@router.post("/status", response_model=BookingOut)
async def change_status(booking_id: uuid.UUID, change: StatusChange, caller: CurrentCaller,
                        session: SessionDep) -> BookingOut:
    """Any allowed move; an invalid one is 409 with the moves allowed from here."""
    booking, _ = await service.transition(session, booking_id, change.to, caller,
                                          reason=change.reason, metadata=change.metadata)
    return booking_out(booking)


@router.post("/confirm", response_model=BookingOut)
async def confirm(booking_id: uuid.UUID, caller: CurrentCaller, session: SessionDep,
                  reason: OptionalReason = None) -> BookingOut:
    return await _move(session, caller, booking_id, "confirmed", reason)


@router.post("/start", response_model=BookingOut)
async def start(booking_id: uuid.UUID, caller: CurrentCaller, session: SessionDep,
                reason: OptionalReason = None) -> BookingOut:
    """The crew is on its way (en_route)."""
    return await _move(session, caller, booking_id, "en_route", reason)


@router.post("/arrive", response_model=BookingOut)
async def arrive(booking_id: uuid.UUID, caller: CurrentCaller, session: SessionDep,
                 reason: OptionalReason = None) -> BookingOut:
    return await _move(session, caller, booking_id, "arrived", reason)


@router.post("/complete", response_model=BookingOut)
async def complete(booking_id: uuid.UUID, caller: CurrentCaller, session: SessionDep,
                   reason: OptionalReason = None) -> BookingOut:
    return await _move(session, caller, booking_id, "completed", reason)


@router.post("/no-show", response_model=BookingOut)
async def no_show(booking_id: uuid.UUID, caller: CurrentCaller, session: SessionDep,
                  reason: OptionalReason = None) -> BookingOut:
    return await _move(session, caller, booking_id, "no_show", reason)


@router.get("/history", response_model=list[HistoryEntry])
async def history(booking_id: uuid.UUID, _: CurrentCaller,
                  session: SessionDep) -> list[HistoryEntry]:
    """Every status change: from, to, by whom, why, and its metadata (e.g. the score)."""
    rows = await service.history_of(session, booking_id)
    return [HistoryEntry(id=r.id, booking_id=r.booking_id, from_status=r.from_status,
                         to_status=r.to_status, actor_user_id=r.actor_user_id,
                         actor_role=r.actor_role, reason=r.reason, metadata=r.metadata_,
                         created_at=r.created_at) for r in rows]
