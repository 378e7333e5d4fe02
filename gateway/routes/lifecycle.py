"""Routes: the lifecycle vocabulary, moving a booking through its lifecycle, and its audit trail."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Body

from dispatch.bookings.schemas import BookingOut
from dispatch.bookings.service import booking_out
from dispatch.lifecycle import service
from dispatch.lifecycle.schemas import HistoryEntry, Lifecycle, Reason, StatusChange
from gateway.deps import CurrentCaller, SessionDep
from persistence.statuses import BookingStatus

router = APIRouter(tags=["lifecycle"])
BOOKING = "/bookings/{booking_id}"
OptionalReason = Annotated[Reason | None, Body()]


@router.get("/lifecycle", response_model=Lifecycle)
async def lifecycle() -> Lifecycle:
    """The booking statuses in lifecycle order, their groups, and who may make each move
    (public vocabulary: the pages read it instead of keeping a copy)."""
    return service.vocabulary()


@router.post(f"{BOOKING}/status", response_model=BookingOut)
async def change_status(
    booking_id: uuid.UUID, change: StatusChange, caller: CurrentCaller, session: SessionDep
) -> BookingOut:
    """Any allowed move; an invalid one is 409 with the moves allowed from here."""
    booking, _ = await service.transition(
        session, booking_id, change.to, caller, reason=change.reason, metadata=change.metadata
    )
    return booking_out(booking)


# Named shortcuts for the everyday moves: POST {BOOKING}/<verb> is a status change to <status>.
SHORTCUTS: tuple[tuple[str, BookingStatus, str], ...] = (
    ("confirm", BookingStatus.CONFIRMED, "The mover takes the booking on."),
    ("start", BookingStatus.EN_ROUTE, "The crew is on its way."),
    ("arrive", BookingStatus.ARRIVED, "The crew is at the pickup."),
    ("complete", BookingStatus.COMPLETED, "The move is done."),
    ("no-show", BookingStatus.NO_SHOW, "The customer was not there."),
)


def _shortcut(target: BookingStatus) -> Callable[..., Awaitable[BookingOut]]:
    async def move(
        booking_id: uuid.UUID, caller: CurrentCaller, session: SessionDep, reason: OptionalReason = None
    ) -> BookingOut:
        booking, _ = await service.transition(
            session, booking_id, target, caller, reason=reason.reason if reason else ""
        )
        return booking_out(booking)

    return move


for verb, target, summary in SHORTCUTS:
    router.add_api_route(
        f"{BOOKING}/{verb}",
        _shortcut(target),
        methods=["POST"],
        response_model=BookingOut,
        name=verb.replace("-", "_"),
        summary=summary,
        description=f"The same as a status change to `{target}`: 409 when that move is not "
        "allowed from the booking's status, with the moves that are.",
    )


@router.get(f"{BOOKING}/history", response_model=list[HistoryEntry])
async def history(booking_id: uuid.UUID, _: CurrentCaller, session: SessionDep) -> list[HistoryEntry]:
    """Every status change: from, to, by whom, why, and its metadata (e.g. the score)."""
    rows = await service.history_of(session, booking_id)
    return [
        HistoryEntry(
            id=r.id,
            booking_id=r.booking_id,
            from_status=r.from_status,
            to_status=r.to_status,
            actor_user_id=r.actor_user_id,
            actor_role=r.actor_role,
            reason=r.reason,
            metadata=r.metadata_,
            created_at=r.created_at,
        )
        for r in rows
    ]
