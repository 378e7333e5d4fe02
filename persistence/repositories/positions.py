"""Stored positions read back: a driver's breadcrumb trail for one day (the position writer,
persistence/positions.py, is what fills the tables)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_DRIVER = text("SELECT id FROM drivers WHERE id = :driver")
# Public: tests/integration/test_positions_partitions.py and the trail benchmark EXPLAIN this
# very text (a day's bounds let the planner scan that day's partition only).
DAY_BREADCRUMBS = text("""
SELECT recorded_at, ST_X(location::geometry) AS lon, ST_Y(location::geometry) AS lat,
       heading, speed, accuracy
FROM driver_breadcrumbs
WHERE driver_id = :driver AND recorded_at >= :start AND recorded_at < :end
ORDER BY recorded_at LIMIT 20000
""")


class PositionRepository:
    """Row-level security decides who may look: the driver's org staff, the driver itself,
    platform admins."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def driver_visible(self, driver_id: uuid.UUID) -> bool:
        """Whether the caller may see this driver (a trail of one it may not see is a 404)."""
        return (await self.session.execute(_DRIVER, {"driver": driver_id})).first() is not None

    async def breadcrumbs_between(
        self, driver_id: uuid.UUID, start: dt.datetime, end: dt.datetime
    ) -> list[Any]:
        """The driver's breadcrumbs in [start, end), oldest first (at most 20,000): a day's
        trail."""
        return list(
            (
                await self.session.execute(DAY_BREADCRUMBS, {"driver": driver_id, "start": start, "end": end})
            ).all()
        )
