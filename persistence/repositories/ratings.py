"""Rating queries: the booking being rated and its driver, one rating per booking, the public
review list, and the running counters behind every average.

The counters move by one UPDATE that adds a delta under the stats row's lock, and the
denormalized organizations.rating_avg/rating_count and drivers.rating_avg follow from it in
the same statement. Concurrent ratings of one organization serialize on its stats row
(UPDATE ... SET x = x + d waits for the lock and re-reads the latest version), so no increment
is ever lost and the average written last is computed from the final sum and count.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, String, func, literal, select, text
from sqlalchemy.dialects.postgresql import insert

from persistence.models import (
    Booking,
    BookingAssignment,
    Driver,
    OrganizationRatingStats,
    Rating,
)
from persistence.repositories.base import Repository

# The counters row is created empty first: a CHECK constraint judges the VALUES row of an
# INSERT ... ON CONFLICT even when it ends in the UPDATE, and deltas can be negative.
ORGANIZATION_STATS_ROW = text(
    "INSERT INTO organization_rating_stats (org_id) VALUES (:org_id) ON CONFLICT (org_id) DO NOTHING"
)
ADD_TO_ORGANIZATION = text("""
WITH stats AS (
  UPDATE organization_rating_stats SET
    rating_sum = rating_sum + :sum, rating_count = rating_count + :count,
    stars_1 = stars_1 + :s1, stars_2 = stars_2 + :s2, stars_3 = stars_3 + :s3,
    stars_4 = stars_4 + :s4, stars_5 = stars_5 + :s5, updated_at = now()
  WHERE org_id = :org_id
  RETURNING org_id, rating_sum, rating_count)
UPDATE organizations o SET rating_count = stats.rating_count,
  rating_avg = CASE WHEN stats.rating_count > 0
    THEN round(stats.rating_sum::numeric / stats.rating_count, 2) ELSE 0 END
FROM stats WHERE o.id = stats.org_id
""")

DRIVER_STATS_ROW = text(
    "INSERT INTO driver_rating_stats (driver_id, org_id) VALUES (:driver_id, :org_id)"
    " ON CONFLICT (driver_id) DO NOTHING"
)
ADD_TO_DRIVER = text("""
WITH stats AS (
  UPDATE driver_rating_stats SET
    rating_sum = rating_sum + :sum, rating_count = rating_count + :count, updated_at = now()
  WHERE driver_id = :driver_id
  RETURNING driver_id, rating_sum, rating_count)
UPDATE drivers d SET rating_avg = CASE WHEN stats.rating_count > 0
    THEN round(stats.rating_sum::numeric / stats.rating_count, 2) ELSE 0 END
FROM stats WHERE d.id = stats.driver_id
""")


class RatingRepository(Repository[Rating]):
    model = Rating

    async def visible_booking(self, booking_id: uuid.UUID) -> Booking | None:
        """The booking if the caller may see it (RLS on bookings decides who may rate or read)."""
        return await self.session.scalar(select(Booking).where(Booking.id == booking_id))

    async def driver_of_booking(self, booking_id: uuid.UUID) -> uuid.UUID | None:
        """The driver who did the move: the active assignment, else the latest one."""
        return await self.session.scalar(
            select(BookingAssignment.driver_id)
            .where(BookingAssignment.booking_id == booking_id)
            .order_by(BookingAssignment.active.desc(), BookingAssignment.created_at.desc())
            .limit(1)
        )

    async def add_once(self, **values: Any) -> Rating | None:
        """The new rating, or None if the booking is rated already (the unique index decides)."""
        rating_id = await self.session.scalar(
            insert(Rating)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["booking_id"])
            .returning(Rating.id)
        )
        if rating_id is None:
            return None
        return await self.session.get_one(Rating, rating_id)

    async def of_booking(self, booking_id: uuid.UUID) -> Rating | None:
        """A booking's rating (the caller must first be shown to see the booking)."""
        return await self.session.scalar(select(Rating).where(Rating.booking_id == booking_id))

    def public_reviews(self, org_id: uuid.UUID) -> Select[Any]:
        """An organization's reviews the public list shows (never hidden ones), newest first."""
        return (
            select(Rating)
            .where(Rating.org_id == org_id, Rating.hidden.is_(False))
            .order_by(Rating.created_at.desc(), Rating.id.desc())
        )

    async def visible_driver(self, driver_id: uuid.UUID) -> Driver | None:
        """The driver if the caller may see them (RLS on drivers: admins, the org's staff, the
        driver): who may read a driver's reviews and summary."""
        return await self.session.scalar(select(Driver).where(Driver.id == driver_id))

    def driver_reviews(self, driver_id: uuid.UUID) -> Select[Any]:
        """The visible reviews of the moves a driver did, newest first."""
        return (
            select(Rating)
            .where(Rating.driver_id == driver_id, Rating.hidden.is_(False))
            .order_by(Rating.created_at.desc(), Rating.id.desc())
        )

    async def driver_star_counts(self, driver_id: uuid.UUID) -> list[tuple[str, int, int]]:
        """(score, stars, how many) of a driver's visible ratings, for both scores a rating
        has: the driver's own stars and the overall stars of the moves the driver did."""
        visible = (Rating.driver_id == driver_id) & Rating.hidden.is_(False)
        driver_stars = (
            select(literal("driver_rating", String), Rating.driver_rating, func.count())
            .where(visible, Rating.driver_rating.is_not(None))
            .group_by(Rating.driver_rating)
        )
        overall_stars = (
            select(literal("overall", String), Rating.overall, func.count())
            .where(visible)
            .group_by(Rating.overall)
        )
        rows = await self.session.execute(driver_stars.union_all(overall_stars))
        return [(str(score), int(stars or 0), int(count)) for score, stars, count in rows.all()]

    def of_customer(self, customer_id: uuid.UUID) -> Select[Any]:
        """A customer's own ratings (hidden ones too: they wrote them), newest first."""
        return (
            select(Rating)
            .where(Rating.customer_id == customer_id)
            .order_by(Rating.created_at.desc(), Rating.id.desc())
        )


class RatingStatsRepository(Repository[OrganizationRatingStats]):
    model = OrganizationRatingStats

    async def of_organization(self, org_id: uuid.UUID) -> OrganizationRatingStats | None:
        """An organization's counters; None until its first rating."""
        return await self.session.get(OrganizationRatingStats, org_id)

    async def add_to_organization(
        self, org_id: uuid.UUID, *, rating_sum: int, rating_count: int, stars: tuple[int, int, int, int, int]
    ) -> None:
        """Add a delta to an organization's counters and recompute its average from them."""
        s1, s2, s3, s4, s5 = stars
        await self.session.execute(ORGANIZATION_STATS_ROW, {"org_id": org_id})
        await self.session.execute(
            ADD_TO_ORGANIZATION,
            {
                "org_id": org_id,
                "sum": rating_sum,
                "count": rating_count,
                "s1": s1,
                "s2": s2,
                "s3": s3,
                "s4": s4,
                "s5": s5,
            },
        )

    async def add_to_driver(
        self, driver_id: uuid.UUID, org_id: uuid.UUID, *, rating_sum: int, rating_count: int
    ) -> None:
        """Add a delta to a driver's counters and recompute the driver's average from them."""
        await self.session.execute(DRIVER_STATS_ROW, {"driver_id": driver_id, "org_id": org_id})
        await self.session.execute(
            ADD_TO_DRIVER,
            {"driver_id": driver_id, "org_id": org_id, "sum": rating_sum, "count": rating_count},
        )
