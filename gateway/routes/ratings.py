"""Routes: ratings of completed bookings, public reviews, rating summaries (per organization
and per driver), one rating by id, a customer's own ratings, hiding by admins."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from dispatch.kit.pagination import Page, PageParams
from dispatch.ratings import service
from dispatch.ratings.schemas import (
    DriverRatingSummary,
    HideRequest,
    RatingCreate,
    RatingOut,
    RatingSummary,
    RatingUpdate,
    Review,
    ReviewPage,
)
from gateway.deps import CurrentCaller, CustomerCaller, PlatformAdmin, SessionDep, SettingsDep

router = APIRouter(tags=["ratings"])
Paging = Annotated[PageParams, Query()]


@router.post("/bookings/{booking_id}/rating", response_model=RatingOut, status_code=status.HTTP_201_CREATED)
async def rate_booking(
    caller: CustomerCaller,
    session: SessionDep,
    settings: SettingsDep,
    booking_id: uuid.UUID,
    body: RatingCreate,
) -> RatingOut:
    """The customer rates their completed booking (once): overall, driver, comment."""
    return await service.create_rating(session, caller, booking_id, body, settings)


@router.get("/bookings/{booking_id}/rating", response_model=RatingOut)
async def booking_rating(
    _: CurrentCaller, session: SessionDep, settings: SettingsDep, booking_id: uuid.UUID
) -> RatingOut:
    """The rating of a booking, as far as the caller may see it."""
    return await service.get_booking_rating(session, booking_id, settings)


@router.patch("/ratings/{rating_id}", response_model=RatingOut)
async def edit_rating(
    caller: CustomerCaller,
    session: SessionDep,
    settings: SettingsDep,
    rating_id: uuid.UUID,
    body: RatingUpdate,
) -> RatingOut:
    """The customer changes their rating within the edit window."""
    return await service.update_rating(session, caller, rating_id, body, settings)


@router.delete("/ratings/{rating_id}", status_code=status.HTTP_204_NO_CONTENT)
async def withdraw_rating(
    caller: CustomerCaller, session: SessionDep, settings: SettingsDep, rating_id: uuid.UUID
) -> Response:
    """The customer withdraws their rating within the edit window."""
    await service.delete_rating(session, caller, rating_id, settings)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/ratings/{rating_id}/hide", response_model=RatingOut)
async def hide_rating(
    caller: PlatformAdmin, session: SessionDep, settings: SettingsDep, rating_id: uuid.UUID, body: HideRequest
) -> RatingOut:
    """A platform admin hides a review: gone from the public list and from the averages."""
    return await service.set_hidden(session, caller, rating_id, settings, hidden=True, reason=body.reason)


@router.post("/ratings/{rating_id}/unhide", response_model=RatingOut)
async def unhide_rating(
    caller: PlatformAdmin, session: SessionDep, settings: SettingsDep, rating_id: uuid.UUID
) -> RatingOut:
    """A platform admin restores a hidden review."""
    return await service.set_hidden(session, caller, rating_id, settings, hidden=False)


@router.get("/organizations/{org_id}/reviews", response_model=ReviewPage)
async def organization_reviews(
    _: CurrentCaller,
    session: SessionDep,
    org_id: uuid.UUID,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> ReviewPage:
    """Recent visible reviews of an organization, newest first."""
    return await service.list_reviews(session, org_id, limit=limit, offset=offset)


@router.get("/organizations/{org_id}/rating-summary", response_model=RatingSummary)
async def organization_rating_summary(
    _: CurrentCaller, session: SessionDep, org_id: uuid.UUID
) -> RatingSummary:
    """Average, count and 1-5 breakdown of an organization's visible ratings."""
    return await service.rating_summary(session, org_id)


@router.get("/ratings/{rating_id}", response_model=RatingOut)
async def rating(
    caller: CurrentCaller, session: SessionDep, settings: SettingsDep, rating_id: uuid.UUID
) -> RatingOut:
    """One rating: for its customer, its organization's staff and platform admins (404 to
    anyone else, hidden or not)."""
    return await service.get_rating(session, caller, rating_id, settings)


@router.get("/me/ratings", response_model=Page[RatingOut])
async def my_ratings(
    caller: CustomerCaller, session: SessionDep, settings: SettingsDep, paging: Paging
) -> Page[RatingOut]:
    """The ratings the calling customer wrote (hidden ones too), newest first."""
    return await service.my_ratings(session, caller, settings, paging)


@router.get("/drivers/{driver_id}/reviews", response_model=Page[Review])
async def driver_reviews(
    _: CurrentCaller, session: SessionDep, driver_id: uuid.UUID, paging: Paging
) -> Page[Review]:
    """Visible reviews of the moves a driver did, newest first: for the driver's organization's
    staff, the driver and platform admins (404 to anyone else)."""
    return await service.driver_reviews(session, driver_id, paging)


@router.get("/drivers/{driver_id}/rating-summary", response_model=DriverRatingSummary)
async def driver_rating_summary(
    _: CurrentCaller, session: SessionDep, driver_id: uuid.UUID
) -> DriverRatingSummary:
    """A driver's average, count and 1-5 distribution of driver stars, and the same per score
    (`driver_rating`, `overall`); hidden ratings do not count."""
    return await service.driver_rating_summary(session, driver_id)
