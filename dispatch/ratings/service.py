"""Use cases of ratings: rate a completed booking, edit or withdraw it in the window, hide it
(platform admins), read an organization's reviews and rating summary.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.errors import Conflict, Forbidden, NotFound, ValidationFailed
from dispatch.kit.pagination import Page, PageParams
from dispatch.ratings.rules import (
    STARS,
    CounterDelta,
    average,
    counter_delta,
    editable_until,
    score_summary,
    within_edit_window,
)
from dispatch.ratings.schemas import (
    DriverRatingSummary,
    RatingCreate,
    RatingOut,
    RatingSummary,
    RatingUpdate,
    Review,
    ReviewPage,
    ScoreSummary,
)
from persistence.config import Settings
from persistence.models import Organization, Rating
from persistence.repositories.base import acting_as_system
from persistence.repositories.organizations import OrganizationRepository
from persistence.repositories.ratings import RatingRepository, RatingStatsRepository
from persistence.session import Caller
from persistence.statuses import BookingStatus


def _window(settings: Settings) -> timedelta:
    return timedelta(days=settings.rating_edit_window_days)


def rating_out(rating: Rating, settings: Settings) -> RatingOut:
    return RatingOut.model_validate(
        {
            **{c: getattr(rating, c) for c in RatingOut.model_fields if c != "editable_until"},
            "editable_until": editable_until(rating.created_at, _window(settings)),
        }
    )


async def _add_to_counters(
    session: AsyncSession, rating: Rating, overall: CounterDelta, driver: CounterDelta
) -> None:
    stats = RatingStatsRepository(session)
    if not overall.is_zero:
        await stats.add_to_organization(
            rating.org_id,
            rating_sum=overall.rating_sum,
            rating_count=overall.rating_count,
            stars=overall.stars,
        )
    if rating.driver_id is not None and not driver.is_zero:
        await stats.add_to_driver(
            rating.driver_id, rating.org_id, rating_sum=driver.rating_sum, rating_count=driver.rating_count
        )


async def _apply_counters(
    session: AsyncSession,
    caller: Caller,
    rating: Rating,
    old: tuple[int | None, int | None],
    new: tuple[int | None, int | None],
) -> None:
    """Move the counters from the (overall, driver_rating) counted before to those counted now.

    Customers may trigger but not write the organization and driver rows, so this step runs
    as the system; the caller's own pending writes are flushed under the caller's policies first.
    """
    await session.flush()
    async with acting_as_system(session, caller):
        await _add_to_counters(session, rating, counter_delta(old[0], new[0]), counter_delta(old[1], new[1]))


def _counted(rating: Rating) -> tuple[int | None, int | None]:
    return (None, None) if rating.hidden else (rating.overall, rating.driver_rating)


async def create_rating(
    session: AsyncSession, caller: Caller, booking_id: uuid.UUID, request: RatingCreate, settings: Settings
) -> RatingOut:
    if caller.role != "customer":
        raise Forbidden("only the booking's customer can rate it")
    ratings = RatingRepository(session)
    booking = await ratings.visible_booking(booking_id)
    if booking is None or booking.customer_id != caller.user_id:
        raise NotFound(f"booking {booking_id} not found")
    if booking.status != BookingStatus.COMPLETED:
        raise Conflict("only a completed booking can be rated", booking_status=booking.status)
    async with acting_as_system(session, caller):
        driver_id = await ratings.driver_of_booking(booking.id)
    if request.driver_rating is not None and driver_id is None:
        raise ValidationFailed("this booking had no driver to rate", field="driver_rating")
    rating = await ratings.add_once(
        org_id=booking.org_id,
        booking_id=booking.id,
        customer_id=booking.customer_id,
        driver_id=driver_id,
        overall=request.overall,
        driver_rating=request.driver_rating,
        comment=request.comment,
    )
    if rating is None:
        raise Conflict("this booking is already rated; edit the rating instead")
    await _apply_counters(session, caller, rating, (None, None), _counted(rating))
    return rating_out(rating, settings)


async def get_booking_rating(session: AsyncSession, booking_id: uuid.UUID, settings: Settings) -> RatingOut:
    """The rating of a booking the caller can see (row-level security on bookings decides).

    The ratings table alone cannot answer this: its public-read policy lets anyone read a
    visible review (the reviews list needs that), so without this check any caller could read
    any booking's rating with its org and driver."""
    ratings = RatingRepository(session)
    if await ratings.visible_booking(booking_id) is None:
        raise NotFound(f"booking {booking_id} not found")
    rating = await ratings.of_booking(booking_id)
    if rating is None:
        raise NotFound(f"booking {booking_id} has no rating")
    return rating_out(rating, settings)


async def _locked(session: AsyncSession, rating_id: uuid.UUID) -> Rating:
    """The rating row locked for this transaction; RLS hides it unless the caller may write it."""
    rating = await RatingRepository(session).lock_by_id(rating_id)
    if rating is None:
        raise NotFound(f"rating {rating_id} not found")
    return rating


async def _owned_in_window(
    session: AsyncSession, caller: Caller, rating_id: uuid.UUID, window: timedelta
) -> Rating:
    rating = await _locked(session, rating_id)
    if caller.role != "customer" or rating.customer_id != caller.user_id:
        raise Forbidden("only the customer who wrote a rating can change it")
    if not within_edit_window(rating.created_at, datetime.now(UTC), window):
        raise Conflict(
            "the edit window of this rating has closed",
            editable_until=editable_until(rating.created_at, window).isoformat(),
        )
    return rating


async def update_rating(
    session: AsyncSession, caller: Caller, rating_id: uuid.UUID, request: RatingUpdate, settings: Settings
) -> RatingOut:
    rating = await _owned_in_window(session, caller, rating_id, _window(settings))
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
    return rating_out(rating, settings)


async def delete_rating(
    session: AsyncSession, caller: Caller, rating_id: uuid.UUID, settings: Settings
) -> None:
    rating = await _owned_in_window(session, caller, rating_id, _window(settings))
    await _apply_counters(session, caller, rating, _counted(rating), (None, None))
    await session.delete(rating)
    await session.flush()


async def set_hidden(
    session: AsyncSession,
    caller: Caller,
    rating_id: uuid.UUID,
    settings: Settings,
    *,
    hidden: bool,
    reason: str = "",
) -> RatingOut:
    """Platform admins hide a review (it leaves the public list and the averages) or restore it."""
    if not caller.is_admin:
        raise Forbidden("only platform admins hide or restore reviews")
    rating = await _locked(session, rating_id)
    if rating.hidden == hidden:
        return rating_out(rating, settings)
    before = _counted(rating)
    rating.hidden = hidden
    rating.hidden_reason = reason if hidden else ""
    rating.hidden_by = caller.user_id if hidden else None
    rating.hidden_at = datetime.now(UTC) if hidden else None
    await _apply_counters(session, caller, rating, before, _counted(rating))
    return rating_out(rating, settings)


async def _organization(session: AsyncSession, org_id: uuid.UUID) -> Organization:
    org = await OrganizationRepository(session).get_by_id(org_id)
    if org is None:
        raise NotFound(f"organization {org_id} not found")
    return org


async def list_reviews(session: AsyncSession, org_id: uuid.UUID, *, limit: int, offset: int) -> ReviewPage:
    """Newest visible reviews first (staff and admins see hidden rows, the list never does)."""
    await _organization(session, org_id)
    ratings = RatingRepository(session)
    rows, total = await ratings.page(ratings.public_reviews(org_id), limit=limit, offset=offset)
    items = [Review.model_validate(row) for row in rows]
    next_offset = offset + limit if offset + limit < total else None
    return ReviewPage(items=items, total=total, limit=limit, offset=offset, next_offset=next_offset)


async def rating_summary(session: AsyncSession, org_id: uuid.UUID) -> RatingSummary:
    await _organization(session, org_id)
    stats = await RatingStatsRepository(session).of_organization(org_id)
    if stats is None:
        return RatingSummary(org_id=org_id, average=0.0, count=0, breakdown={str(star): 0 for star in STARS})
    return RatingSummary(
        org_id=org_id,
        average=average(stats.rating_sum, stats.rating_count),
        count=stats.rating_count,
        breakdown={str(star): getattr(stats, f"stars_{star}") for star in STARS},
    )


def _may_read(caller: Caller, rating: Rating) -> bool:
    """One rating by id: its customer, its organization's staff, platform admins."""
    if caller.is_admin:
        return True
    if caller.role == "customer":
        return rating.customer_id == caller.user_id
    return caller.role in ("mover_admin", "dispatcher") and rating.org_id == caller.org_id


async def get_rating(
    session: AsyncSession, caller: Caller, rating_id: uuid.UUID, settings: Settings
) -> RatingOut:
    """A rating by id for who may read it; everyone else gets 404, as if it did not exist.

    Row-level security alone would let any signed-in caller read a visible review (the public
    lists need that), so the reader is checked here too; hidden ratings stay visible only to
    their customer, the organization's staff and admins (the policies on hidden rows)."""
    rating = await RatingRepository(session).get_by_id(rating_id)
    if rating is None or not _may_read(caller, rating):
        raise NotFound(f"rating {rating_id} not found")
    return rating_out(rating, settings)


async def my_ratings(
    session: AsyncSession, caller: Caller, settings: Settings, params: PageParams
) -> Page[RatingOut]:
    """The ratings the calling customer wrote, hidden ones too, newest first."""
    if caller.role != "customer" or caller.user_id is None:
        raise Forbidden("only customers write ratings")
    ratings = RatingRepository(session)
    rows, total = await ratings.page(
        ratings.of_customer(caller.user_id), limit=params.limit, offset=params.offset
    )
    return Page.of([rating_out(row, settings) for row in rows], total, params)


async def _visible_driver(session: AsyncSession, driver_id: uuid.UUID) -> None:
    if await RatingRepository(session).visible_driver(driver_id) is None:
        raise NotFound(f"driver {driver_id} not found")


async def driver_reviews(session: AsyncSession, driver_id: uuid.UUID, params: PageParams) -> Page[Review]:
    """Visible reviews of the moves a driver did, newest first, for who may see the driver."""
    await _visible_driver(session, driver_id)
    ratings = RatingRepository(session)
    rows, total = await ratings.page(
        ratings.driver_reviews(driver_id), limit=params.limit, offset=params.offset
    )
    return Page.of([Review.model_validate(row) for row in rows], total, params)


async def driver_rating_summary(session: AsyncSession, driver_id: uuid.UUID) -> DriverRatingSummary:
    """A driver's own stars and the overall stars of their moves, from visible ratings."""
    await _visible_driver(session, driver_id)
    counts: dict[str, dict[int, int]] = {"driver_rating": {}, "overall": {}}
    for score, stars, how_many in await RatingRepository(session).driver_star_counts(driver_id):
        counts[score][int(stars)] = int(how_many)
    breakdown = {}
    for score, by_star in counts.items():
        avg, count, distribution = score_summary(by_star)
        breakdown[score] = ScoreSummary(average=avg, count=count, distribution=distribution)
    own = breakdown["driver_rating"]
    return DriverRatingSummary(
        driver_id=driver_id,
        average=own.average,
        count=own.count,
        distribution=own.distribution,
        breakdown=breakdown,
    )
