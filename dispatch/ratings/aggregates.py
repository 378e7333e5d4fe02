"""Running rating counters: one UPDATE adds a delta under the stats row's lock, and the
denormalized organizations.rating_avg/rating_count and drivers.rating_avg follow from it in
the same statement.

Concurrent ratings of one organization serialize on its stats row (UPDATE ... SET x = x + d
waits for the lock and re-reads the latest version), so no increment is ever lost and the
average written last is computed from the final sum and count.
"""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.ratings.rules import CounterDelta

# The counters row is created empty first: a CHECK constraint judges the VALUES row of an
# INSERT ... ON CONFLICT even when it ends in the UPDATE, and deltas can be negative.
_ORG_ROW = text("INSERT INTO organization_rating_stats (org_id) VALUES (:org_id)"
                " ON CONFLICT (org_id) DO NOTHING")
_ORG = text("""
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

_DRIVER_ROW = text("INSERT INTO driver_rating_stats (driver_id, org_id) VALUES (:driver_id, :org_id)"
                   " ON CONFLICT (driver_id) DO NOTHING")
_DRIVER = text("""
WITH stats AS (
  UPDATE driver_rating_stats SET
    rating_sum = rating_sum + :sum, rating_count = rating_count + :count, updated_at = now()
  WHERE driver_id = :driver_id
  RETURNING driver_id, rating_sum, rating_count)
UPDATE drivers d SET rating_avg = CASE WHEN stats.rating_count > 0
    THEN round(stats.rating_sum::numeric / stats.rating_count, 2) ELSE 0 END
FROM stats WHERE d.id = stats.driver_id
""")


async def add_to_organization(session: AsyncSession, org_id: uuid.UUID,
                              delta: CounterDelta) -> None:
    if delta.is_zero:
        return
    s1, s2, s3, s4, s5 = delta.stars
    await session.execute(_ORG_ROW, {"org_id": org_id})
    await session.execute(_ORG, {"org_id": org_id, "sum": delta.rating_sum,
                                 "count": delta.rating_count,
                                 "s1": s1, "s2": s2, "s3": s3, "s4": s4, "s5": s5})


async def add_to_driver(session: AsyncSession, driver_id: uuid.UUID | None, org_id: uuid.UUID,
                        delta: CounterDelta) -> None:
    if driver_id is None or delta.is_zero:
        return
    await session.execute(_DRIVER_ROW, {"driver_id": driver_id, "org_id": org_id})
    await session.execute(_DRIVER, {"driver_id": driver_id, "org_id": org_id,
                                    "sum": delta.rating_sum, "count": delta.rating_count})
