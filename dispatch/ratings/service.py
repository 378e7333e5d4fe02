"""Use cases of ratings: rate a completed booking, edit or withdraw it in the window, hide it
(platform admins), read an organization's reviews and rating summary.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.errors import Conflict, Forbidden, NotFound, ValidationFailed
from dispatch.ratings import aggregates
from dispatch.ratings.rules import STARS, average, counter_delta, editable_until, within_edit_window
from dispatch.ratings.schemas import (
    RatingCreate,
    RatingOut,
    RatingSummary,
    RatingUpdate,
    Review,
    ReviewPage,
)
from persistence.config import get_settings
from persistence.models import (
    Booking,
    BookingAssignment,
    Organization,
    OrganizationRatingStats,
    Rating,
)
from persistence.repositories.base import acting_as_system
from persistence.session import Caller


def _window() -> timedelta:
    return timedelta(days=get_settings().rating_edit_window_days)


def rating_out(rating: Rating) -> RatingOut:
    return RatingOut.model_validate(
        {**{c: getattr(rating, c) for c in RatingOut.model_fields if c != "editable_until"},
         "editable_until": editable_until(rating.created_at, _window())})


async def _booking_driver(session: AsyncSession, booking_id: uuid.UUID) -> uuid.UUID | None:
    """The driver who did the move: the active assignment, else the latest one."""
    return await session.scalar(
        select(BookingAssignment.driver_id).where(BookingAssignment.booking_id == booking_id)
        .order_by(BookingAssignment.active.desc(), BookingAssignment.created_at.desc()).limit(1))


async def _apply_counters(session: AsyncSession, caller: Caller, rating: Rating,
                          old: tuple[int | None, int | None],
                          new: tuple[int | None, int | None]) -> None:
    """Move the counters from the (overall, driver_rating) counted before to those counted now.

    Customers may trigger but not write the organization and driver rows, so this step runs
    as the system; the caller's own pending writes are flushed under the caller's policies first.
    """
    await session.flush()
    async with acting_as_system(session, caller):
        await aggregates.add_to_organization(session, rating.org_id, counter_delta(old[0], new[0]))
        await aggregates.add_to_driver(session, rating.driver_id, rating.org_id,
                                       counter_delta(old[1], new[1]))


def _counted(rating: Rating) -> tuple[int | None, int | None]:
    return (None, None) if rating.hidden else (rating.overall, rating.driver_rating)


async def create_rating(session: AsyncSession, caller: Caller, booking_id: uuid.UUID,
                        request: RatingCreate) -> RatingOut:
    if caller.role != "customer":
        raise Forbidden("only the booking's customer can rate it")
    booking = await session.scalar(select(Booking).where(Booking.id == booking_id))
    if booking is None or booking.customer_id != caller.user_id:
        raise NotFound(f"booking {booking_id} not found")
    if booking.status != "completed":
        raise Conflict("only a completed booking can be rated", booking_status=booking.status)
    async with acting_as_system(session, caller):
        driver_id = await _booking_driver(session, booking.id)
    if request.driver_rating is not None and driver_id is None:
        raise ValidationFailed("this booking had no driver to rate", field="driver_rating")
    rating_id = await session.scalar(
        insert(Rating).values(org_id=booking.org_id, booking_id=booking.id,
                              customer_id=booking.customer_id, driver_id=driver_id,
                              overall=request.overall, driver_rating=request.driver_rating,
                              comment=request.comment)
        .on_conflict_do_nothing(index_elements=["booking_id"]).returning(Rating.id))
    if rating_id is None:
        raise Conflict("this booking is already rated; edit the rating instead")
    rating = await session.get_one(Rating, rating_id)
    await _apply_counters(session, caller, rating, (None, None), _counted(rating))
    return rating_out(rating)


async def get_booking_rating(session: AsyncSession, booking_id: uuid.UUID) -> RatingOut:
    """The rating of a booking the caller can see (row-level security on bookings decides).

    The ratings table alone cannot answer this: its public-read policy lets anyone read a
    visible review (the reviews list needs that), so without this check any caller could read
    any booking's rating with its org and driver."""
    if await session.scalar(select(Booking.id).where(Booking.id == booking_id)) is None:
        raise NotFound(f"booking {booking_id} not found")
    rating = await session.scalar(select(Rating).where(Rating.booking_id == booking_id))
    if rating is None:
        raise NotFound(f"booking {booking_id} has no rating")
    return rating_out(rating)


async def _locked(session: AsyncSession, rating_id: uuid.UUID) -> Rating:
    """The rating row locked for this transaction; RLS hides it unless the caller may write it."""
    rating = await session.scalar(select(Rating).where(Rating.id == rating_id).with_for_update())
    if rating is None:
        raise NotFound(f"rating {rating_id} not found")
    return rating


async def _owned_in_window(session: AsyncSession, caller: Caller, rating_id: uuid.UUID) -> Rating:
    rating = await _locked(session, rating_id)
    if caller.role != "customer" or rating.customer_id != caller.user_id:
        raise Forbidden("only the customer who wrote a rating can change it")
    if not within_edit_window(rating.created_at, datetime.now(UTC), _window()):
        raise Conflict("the edit window of this rating has closed",
                       editable_until=editable_until(rating.created_at, _window()).isoformat())
    return rating


async def update_rating(session: AsyncSession, caller: Caller, rating_id: uuid.UUID,
                        request: RatingUpdate) -> RatingOut:
    rating = await _owned_in_window(session, caller, rating_id)
    changes = request.model_dump(exclude_unset=True)
    if changes.get("overall", rating.overall) is None:
        raise ValidationFailed("overall cannot be removed", field="overall")
    if changes.get("driver_rating") is not None and rating.driver_id is None:
        raise ValidationFailed("this booking had no driver to rate", field="driver_rating")
    before = _counted(rating)
    for name, value in changes.items():
        setattr(rating, name, "" if name == "comment" and value is None else value)
    rating.updated_at = datetime.now(UTC)
    await _apply_counters(session, caller, rating, before, _counted(rating))
    return rating_out(rating)


async def delete_rating(session: AsyncSession, caller: Caller, rating_id: uuid.UUID) -> None:
    rating = await _owned_in_window(session, caller, rating_id)
    await _apply_counters(session, caller, rating, _counted(rating), (None, None))
    await session.delete(rating)
    await session.flush()


async def set_hidden(session: AsyncSession, caller: Caller, rating_id: uuid.UUID, *,
                     hidden: bool, reason: str = "") -> RatingOut:
    """Platform admins hide a review (it leaves the public list and the averages) or restore it."""
    if not caller.is_admin:
        raise Forbidden("only platform admins hide or restore reviews")
    rating = await _locked(session, rating_id)
    if rating.hidden == hidden:
        return rating_out(rating)
    before = _counted(rating)
    rating.hidden = hidden
    rating.hidden_reason = reason if hidden else ""
    rating.hidden_by = caller.user_id if hidden else None
    rating.hidden_at = datetime.now(UTC) if hidden else None
    await _apply_counters(session, caller, rating, before, _counted(rating))
    return rating_out(rating)


async def _organization(session: AsyncSession, org_id: uuid.UUID) -> Organization:
    org = await session.get(Organization, org_id)
    if org is None:
        raise NotFound(f"organization {org_id} not found")
    return org


async def list_reviews(session: AsyncSession, org_id: uuid.UUID, *, limit: int,
                       offset: int) -> ReviewPage:
    """Newest visible reviews first (staff and admins see hidden rows, the list never does)."""
    await _organization(session, org_id)
    visible = (Rating.org_id == org_id, Rating.hidden.is_(False))
    total = int(await session.scalar(select(func.count()).where(*visible)) or 0)
    rows = await session.scalars(select(Rating).where(*visible)
                                 .order_by(Rating.created_at.desc(), Rating.id.desc())
                                 .limit(limit).offset(offset))
    items = [Review.model_validate(row) for row in rows]
    next_offset = offset + limit if offset + limit < total else None
    return ReviewPage(items=items, total=total, limit=limit, offset=offset,
                      next_offset=next_offset)


async def rating_summary(session: AsyncSession, org_id: uuid.UUID) -> RatingSummary:
    await _organization(session, org_id)
    stats = await session.get(OrganizationRatingStats, org_id)
    if stats is None:
        return RatingSummary(org_id=org_id, average=0.0, count=0,
                             breakdown={str(star): 0 for star in STARS})
    return RatingSummary(
        org_id=org_id, average=average(stats.rating_sum, stats.rating_count),
        count=stats.rating_count,
        breakdown={str(star): getattr(stats, f"stars_{star}") for star in STARS})
