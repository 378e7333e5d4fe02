"""Loading a shard's live state from PostgreSQL into columns (truth lives in the database)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from shapely import wkb
from shapely.prepared import PreparedGeometry, prep
from sqlalchemy import text

from actors.slots import slot_of
from dispatch.assignment.scoring import FleetColumns, skill_mask
from dispatch.pricing import Pricing
from persistence.session import SYSTEM, tenant_session


@dataclass
class LiveColumns:
    """What the driver app streams in: heading, speed, last seen, and the job in hand."""

    heading: npt.NDArray[np.float64]
    speed: npt.NDArray[np.float64]
    last_seen: npt.NDArray[np.float64]  # epoch seconds of the newest ping; 0 = never
    job: list[dict[str, Any] | None]  # booking id, status, pickup and dropoff of the job
    applied: npt.NDArray[np.int64]  # pings applied per driver (a moved slot loses none)

    @classmethod
    def empty(cls, drivers: int) -> LiveColumns:
        return cls(heading=np.full(drivers, np.nan), speed=np.full(drivers, np.nan),
                   last_seen=np.zeros(drivers), job=[None] * drivers,
                   applied=np.zeros(drivers, np.int64))


@dataclass
class OrgState:
    org_id: str
    name: str
    verified: bool
    rating: float
    area: PreparedGeometry
    pricing: Pricing
    fleet: FleetColumns
    driver_row: dict[str, int] = field(default_factory=dict)
    truck_row: dict[str, int] = field(default_factory=dict)
    live: LiveColumns = field(default_factory=lambda: LiveColumns.empty(0))

    # A slot handover ships the state to another shard; shapely refuses to pickle a prepared
    # geometry, so the service area travels as WKB and is prepared again on arrival.
    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "area": self.area.context.wkb}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update({**state, "area": prep(wkb.loads(state["area"]))})


_ORGS = text("""
SELECT id::text, name, verified AND active AS verified, rating_avg::float8,
       ST_AsBinary(service_area::geometry) AS area, hourly_rate_cents, per_km_cents,
       minimum_charge_cents, currency
FROM organizations WHERE (CAST(:org AS uuid) IS NULL OR id = CAST(:org AS uuid))
""")
_DRIVERS = text("""
SELECT d.id::text, d.org_id::text, d.status = 'active' AND d.verified AS eligible,
       d.skills, ST_Y(d.home_base::geometry) AS lat, ST_X(d.home_base::geometry) AS lon,
       d.rating_avg::float8 AS rating
FROM drivers d WHERE d.org_id = ANY(CAST(:orgs AS uuid[])) ORDER BY d.id
""")
_TRUCKS = text("""
SELECT id::text, org_id::text, capacity_m3::float8, status = 'active' AS active
FROM trucks WHERE org_id = ANY(CAST(:orgs AS uuid[])) ORDER BY id
""")
_BUSY = text("""
SELECT a.org_id::text, a.driver_id::text, a.truck_id::text,
       extract(epoch FROM lower(a."window"))::float8 AS s,
       extract(epoch FROM upper(a."window"))::float8 AS e,
       ST_Y(b.dropoff_location::geometry) AS lat, ST_X(b.dropoff_location::geometry) AS lon
FROM booking_assignments a JOIN bookings b ON b.id = a.booking_id
WHERE a.active AND a.org_id = ANY(CAST(:orgs AS uuid[])) AND upper(a."window") > :since
""")


def _columns(drivers: list[Any], trucks: list[Any], now: float) -> FleetColumns:
    n = len(drivers)
    return FleetColumns(
        driver_ids=[d.id for d in drivers],
        lat=np.array([d.lat for d in drivers], dtype=float),
        lon=np.array([d.lon for d in drivers], dtype=float),
        eligible=np.array([d.eligible for d in drivers], dtype=bool),
        skills=np.array([skill_mask(d.skills) for d in drivers], dtype=np.int64),
        # An unrated driver (rating 0) counts as neutral, neither favoured nor penalised.
        rating=np.array([d.rating or 3.0 for d in drivers], dtype=float),
        jobs_today=np.zeros(n, dtype=np.int64),
        idle_since=np.full(n, now - 8 * 3600.0),
        truck_ids=[t.id for t in trucks],
        truck_capacity=np.array([t.capacity_m3 for t in trucks], dtype=float),
        truck_active=np.array([t.active for t in trucks], dtype=bool),
    )


async def load_orgs(owned: set[int], slots: int,
                    org_id: str | None = None) -> dict[str, OrgState]:
    """Every organization in these slots (or just one), with fleet and busy intervals."""
    now = datetime.now(UTC)
    async with tenant_session(SYSTEM) as session:
        orgs = [o for o in (await session.execute(_ORGS, {"org": org_id})).all()
                if slot_of(o.id, slots) in owned]
        ids = [o.id for o in orgs]
        drivers = (await session.execute(_DRIVERS, {"orgs": ids})).all() if ids else []
        trucks = (await session.execute(_TRUCKS, {"orgs": ids})).all() if ids else []
        busy = (await session.execute(
            _BUSY, {"orgs": ids, "since": now - timedelta(days=1)})).all() if ids else []
    states: dict[str, OrgState] = {}
    for o in orgs:
        own_drivers = [d for d in drivers if d.org_id == o.id]
        own_trucks = [t for t in trucks if t.org_id == o.id]
        state = OrgState(
            org_id=o.id, name=o.name, verified=bool(o.verified), rating=o.rating_avg or 0.0,
            area=prep(wkb.loads(bytes(o.area))),
            pricing=Pricing(o.hourly_rate_cents, o.per_km_cents, o.minimum_charge_cents,
                            o.currency),
            fleet=_columns(own_drivers, own_trucks, now.timestamp()),
            driver_row={d.id: i for i, d in enumerate(own_drivers)},
            truck_row={t.id: i for i, t in enumerate(own_trucks)},
            live=LiveColumns.empty(len(own_drivers)),
        )
        states[o.id] = state
    for b in busy:
        note_busy(states[b.org_id], b.driver_id, b.truck_id, b.s, b.e, b.lat, b.lon, now)
    return states


def note_busy(state: OrgState, driver_id: str, truck_id: str, start: float, end: float,
              end_lat: float, end_lon: float, now: datetime | None = None) -> None:
    """Record a committed assignment in the columns (jobs today, idle time, busy windows)."""
    fleet = state.fleet
    today = (now or datetime.now(UTC)).replace(hour=0, minute=0, second=0, microsecond=0)
    d = state.driver_row.get(driver_id)
    if d is not None:
        fleet.driver_busy.add(d, start, end, end_lat, end_lon)
        if start >= today.timestamp():
            fleet.jobs_today[d] += 1
        fleet.idle_since[d] = max(fleet.idle_since[d], end)
    t = state.truck_row.get(truck_id)
    if t is not None:
        fleet.truck_busy.add(t, start, end, end_lat, end_lon)

