"""A driver's breadcrumb trail for one day as GeoJSON (points from the position writer)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.errors import NotFound, ValidationFailed
from persistence.repositories.positions import PositionRepository


def _number(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)


async def day_trail(session: AsyncSession, driver_id: uuid.UUID, day: dt.date) -> dict[str, Any]:
    """The day's path and breadcrumbs as a GeoJSON FeatureCollection (404 if the driver is
    not the caller's to see)."""
    if day >= dt.date.max:  # the day's end (the next midnight) would overflow
        raise ValidationFailed(f"date must be before {dt.date.max.isoformat()}", field="date")
    positions = PositionRepository(session)
    if not await positions.driver_visible(driver_id):
        raise NotFound("no such driver")
    start = dt.datetime.combine(day, dt.time(), dt.UTC)
    rows = await positions.breadcrumbs_between(driver_id, start, start + dt.timedelta(days=1))
    points = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [r.lon, r.lat]},
            "properties": {
                "recorded_at": r.recorded_at.isoformat(),
                "heading": _number(r.heading),
                "speed": _number(r.speed),
                "accuracy": _number(r.accuracy),
            },
        }
        for r in rows
    ]
    features: list[dict[str, Any]] = []
    if len(rows) >= 2:  # a LineString needs two positions
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [[r.lon, r.lat] for r in rows]},
                "properties": {
                    "driver_id": str(driver_id),
                    "date": day.isoformat(),
                    "points": len(rows),
                    "started_at": rows[0].recorded_at.isoformat(),
                    "ended_at": rows[-1].recorded_at.isoformat(),
                },
            }
        )
    return {"type": "FeatureCollection", "features": features + points}
