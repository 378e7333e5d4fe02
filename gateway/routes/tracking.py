"""Routes: the customer's tracking view of a move under way — `GET /api/v1/bookings/{id}/tracking`
(crew position, heading, ETA, status) and the `/track/{booking_id}` page that polls it.

Who may look: the booking's customer (session, or the signed short-lived link `?t=` that the
crew-near/crew-arrived notifications carry), and — because dispatchers answer the customer's
phone calls — the staff of the booking's organization and platform admins. Anyone else gets
the same 404 as a booking that does not exist.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse

from dispatch.errors import Unauthorized
from dispatch.tracking import links
from dispatch.tracking import service as tracking
from dispatch.tracking.rules import EtaModel
from dispatch.tracking.schemas import Tracking
from gateway.deps import SettingsDep, SystemSessionDep, current_caller
from gateway.openapi import ANSWERS
from gateway.routes.static_files import CSS, JAVASCRIPT, StaticFiles
from persistence.session import Caller

router = APIRouter(tags=["tracking"])
TRACK = StaticFiles("track", {"track.js": JAVASCRIPT, "track.css": CSS}, "tracking page asset")
LinkToken = Annotated[
    str | None,
    Query(
        alias="t",
        max_length=200,
        description="the signed tracking link's token (from the notification); instead of a session",
    ),
]


async def viewer(request: Request, booking_id: uuid.UUID, token: LinkToken = None) -> Caller:
    """The session's caller, or the customer a valid link names (a link for another booking,
    forged or expired is 401)."""
    if token is None:
        return await current_caller(request)
    settings = request.app.state.settings
    try:
        grant = links.verify(settings.digest_secret, booking_id, token, time.time())
    except links.BadLink as exc:
        raise Unauthorized(f"{exc}; ask for a new one or sign in") from exc
    return Caller(role="customer", user_id=grant.customer_id)


@router.get(
    "/api/v1/bookings/{booking_id}/tracking",
    response_model=Tracking,
    responses={
        401: {"description": ANSWERS[401][0]},
        409: {"description": "the move is not under way (tracking is open from en_route to unloading)"},
    },
)
async def booking_tracking(
    request: Request,
    booking_id: uuid.UUID,
    session: SystemSessionDep,
    settings: SettingsDep,
    token: LinkToken = None,
) -> Tracking:
    """Where the crew is (live from the fleet, else the newest stored ping), its heading and
    the ETA to the next stop, while the booking is en_route..unloading."""
    caller = await viewer(request, booking_id, token)
    model = EtaModel.of(
        settings.eta_road_factor,
        settings.eta_default_speed_kmh,
        settings.eta_notify_minutes,
        settings.geofence_radius_m,
    )
    return await tracking.tracking(session, booking_id, caller, request.app.state.fleet, model)


@router.get("/track/{booking_id}", include_in_schema=False)
async def track_page(booking_id: uuid.UUID) -> FileResponse:
    """The customer's tracking page (it reads its token from the URL and polls the API)."""
    return TRACK.page()


@router.get("/track/assets/{asset}", include_in_schema=False)
async def track_asset(asset: str) -> FileResponse:
    return TRACK.asset(asset)
