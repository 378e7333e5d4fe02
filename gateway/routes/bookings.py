"""Routes: bookings — quote, book, list, read, amend; and who is available for a move."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from pydantic import AwareDatetime

from dispatch.bookings import availability, service
from dispatch.bookings.schemas import (
    AvailabilitySort,
    AvailableOrganization,
    BookingCreate,
    BookingOut,
    BookingSort,
    BookingUpdate,
    QuoteOut,
    QuoteRequest,
)
from dispatch.kit.geo import GeoPoint
from dispatch.kit.pagination import Page, PageParams
from gateway.deps import CurrentCaller, CustomerCaller, SessionDep, SettingsDep, require_role
from persistence.session import Caller
from persistence.statuses import BookingStatus

router = APIRouter(tags=["bookings"])
Paging = Annotated[PageParams, Query()]
Participant = Annotated[Caller, Depends(require_role("customer", "mover_admin", "dispatcher"))]


@router.post("/bookings/quote", response_model=QuoteOut)
async def quote(
    _: CurrentCaller, session: SessionDep, settings: SettingsDep, request: QuoteRequest
) -> QuoteOut:
    """The organization's price for a move, over the real distance between the two points."""
    return await service.quote(session, request, average_speed_kmh=settings.average_speed_kmh)


@router.post("/bookings", response_model=BookingOut, status_code=status.HTTP_201_CREATED)
async def book(
    caller: CustomerCaller, session: SessionDep, settings: SettingsDep, payload: BookingCreate
) -> BookingOut:
    """Book a move: the pickup must lie in the org's service area; priced on creation."""
    return service.booking_out(
        await service.book(session, caller, payload, average_speed_kmh=settings.average_speed_kmh)
    )


@router.get("/bookings", response_model=Page[BookingOut])
async def bookings(
    _: CurrentCaller,
    session: SessionDep,
    paging: Paging,
    sort: Annotated[list[BookingSort], Query()] = [BookingSort.window_start],  # noqa: B006
    booking_status: Annotated[list[BookingStatus], Query(alias="status")] = [],  # noqa: B006
    window_from: Annotated[
        AwareDatetime | None, Query(description="windows ending after this instant")
    ] = None,
    window_to: Annotated[
        AwareDatetime | None, Query(description="windows starting before this instant")
    ] = None,
    org_id: Annotated[uuid.UUID | None, Query(description="platform admins: one organization")] = None,
) -> Page[BookingOut]:
    """A customer's own bookings, an organization's for its staff, a driver's assigned ones."""
    return await service.listing(
        session,
        paging,
        sort,
        statuses=booking_status,
        org_id=org_id,
        window_from=window_from,
        window_to=window_to,
    )


@router.get("/bookings/{booking_id}", response_model=BookingOut)
async def booking(_: CurrentCaller, session: SessionDep, booking_id: uuid.UUID) -> BookingOut:
    return service.booking_out(await service.visible_booking(session, booking_id))


@router.patch("/bookings/{booking_id}", response_model=BookingOut)
async def amend(
    caller: Participant,
    session: SessionDep,
    settings: SettingsDep,
    booking_id: uuid.UUID,
    changes: BookingUpdate,
) -> BookingOut:
    """Change notes; while pending or confirmed also the window and addresses (re-priced)."""
    return service.booking_out(
        await service.amend(
            session, caller, booking_id, changes, average_speed_kmh=settings.average_speed_kmh
        )
    )


@router.get("/availability", response_model=Page[AvailableOrganization])
async def available(
    caller: CurrentCaller,
    session: SessionDep,
    paging: Paging,
    lat: Annotated[float, Query(ge=-90, le=90)],
    lon: Annotated[float, Query(ge=-180, le=180)],
    start: AwareDatetime,
    end: AwareDatetime,
    volume: Annotated[float, Query(gt=0, le=200, description="cubic metres")],
    sort: Annotated[list[AvailabilitySort], Query()] = [AvailabilitySort.distance],  # noqa: B006
) -> Page[AvailableOrganization]:
    """Organizations serving the pickup with a free driver and a big-enough free truck."""
    return await availability.available_organizations(
        session, caller, GeoPoint(lon=lon, lat=lat), start, end, volume, paging, sort
    )
