"""A driver's breadcrumb trail for one day as GeoJSON (points from the position writer)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.errors import NotFound, ValidationFailed

# Row-level security decides who may look: the driver's org staff, the driver, platform admins.
_DRIVER = text("SELECT id FROM drivers WHERE id = :driver")
_POINTS = text("""
SELECT recorded_at, ST_X(location::geometry) AS lon, ST_Y(location::geometry) AS lat,
       heading, speed, accuracy
FROM driver_breadcrumbs
WHERE driver_id = :driver AND recorded_at >= :start AND recorded_at < :end
ORDER BY recorded_at LIMIT 20000
""")


def _number(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)


async def day_trail(session: AsyncSession, driver_id: uuid.UUID, day: dt.date) -> dict[str, Any]:
    if day >= dt.date.max:  # the day's end (the next midnight) would overflow
        raise ValidationFailed(f"date must be before {dt.date.max.isoformat()}", field="date")
    if (await session.execute(_DRIVER, {"driver": driver_id})).first() is None:
        raise NotFound("no such driver")
    start = dt.datetime.combine(day, dt.time(), dt.UTC)
    rows = (await session.execute(_POINTS, {"driver": driver_id, "start": start,
                                            "end": start + dt.timedelta(days=1)})).all()
    points = [{"type": "Feature",
               "geometry": {"type": "Point", "coordinates": [r.lon, r.lat]},
               "properties": {"recorded_at": r.recorded_at.isoformat(),
                              "heading": _number(r.heading), "speed": _number(r.speed),
                              "accuracy": _number(r.accuracy)}} for r in rows]
    features: list[dict[str, Any]] = []
    if len(rows) >= 2:  # a LineString needs two positions
        features.append({
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": [[r.lon, r.lat] for r in rows]},
            "properties": {"driver_id": str(driver_id), "date": day.isoformat(),
                           "points": len(rows), "started_at": rows[0].recorded_at.isoformat(),
                           "ended_at": rows[-1].recorded_at.isoformat()}})
    return {"type": "FeatureCollection", "features": features + points}
