"""Routes: a driver's breadcrumb trail for one day, as GeoJSON."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from gateway.deps import CurrentCaller, SessionDep
from gateway.realtime.trail import day_trail

router = APIRouter(tags=["fleet"])


class GeoJSONResponse(JSONResponse):
    media_type = "application/geo+json"


@router.get("/drivers/{driver_id}/trail", response_class=GeoJSONResponse)
async def trail(
    driver_id: uuid.UUID,
    _: CurrentCaller,
    session: SessionDep,
    date: Annotated[
        dt.date | None, Query(description="the day (UTC), YYYY-MM-DD; today when left out")
    ] = None,
) -> dict[str, Any]:
    """A FeatureCollection: the day's path as a LineString, then every breadcrumb as a Point
    with its timestamp. The driver's org staff, the driver and platform admins only (404 to
    anyone else)."""
    return await day_trail(session, driver_id, date or dt.datetime.now(dt.UTC).date())
