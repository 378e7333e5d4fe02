"""Loading a shard's live state from PostgreSQL into columns (truth lives in the database)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from shapely import wkb
from shapely.prepared import PreparedGeometry, prep

from actors.slots import slot_of
from dispatch.assignment.scoring import FleetColumns, skill_mask
from dispatch.pricing import Pricing
from persistence.repositories.fleet_state import FleetStateRepository
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
        return cls(
            heading=np.full(drivers, np.nan),
            speed=np.full(drivers, np.nan),
            last_seen=np.zeros(drivers),
            job=[None] * drivers,
            applied=np.zeros(drivers, np.int64),
        )


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


async def load_orgs(owned: set[int], slots: int, org_id: str | None = None) -> dict[str, OrgState]:
    """Every organization in these slots (or just one), with fleet and busy intervals."""
    now = datetime.now(UTC)
    async with tenant_session(SYSTEM) as session:
        stored = FleetStateRepository(session)
        orgs = [o for o in await stored.organizations(org_id) if slot_of(o.id, slots) in owned]
        ids = [o.id for o in orgs]
        drivers = await stored.drivers_of(ids) if ids else []
        trucks = await stored.trucks_of(ids) if ids else []
        busy = await stored.busy_windows_of(ids, now - timedelta(days=1)) if ids else []
    # Grouped in one pass: a filter per organization is orgs x drivers (1,000 orgs x 50,000
    # drivers on one shard of the scale bench: minutes of a rebuild on a busy machine).
    drivers_of: dict[Any, list[Any]] = {}
    for d in drivers:
        drivers_of.setdefault(d.org_id, []).append(d)
    trucks_of: dict[Any, list[Any]] = {}
    for t in trucks:
        trucks_of.setdefault(t.org_id, []).append(t)
    states: dict[str, OrgState] = {}
    for o in orgs:
        own_drivers, own_trucks = drivers_of.get(o.id, []), trucks_of.get(o.id, [])
        state = OrgState(
            org_id=o.id,
            name=o.name,
            verified=bool(o.verified),
            rating=o.rating_avg or 0.0,
            area=prep(wkb.loads(bytes(o.area))),
            pricing=Pricing(o.hourly_rate_cents, o.per_km_cents, o.minimum_charge_cents, o.currency),
            fleet=_columns(own_drivers, own_trucks, now.timestamp()),
            driver_row={d.id: i for i, d in enumerate(own_drivers)},
            truck_row={t.id: i for i, t in enumerate(own_trucks)},
            live=LiveColumns.empty(len(own_drivers)),
        )
        states[o.id] = state
    for b in busy:
        note_busy(states[b.org_id], b.driver_id, b.truck_id, b.s, b.e, b.lat, b.lon, now)
    return states


def note_busy(
    state: OrgState,
    driver_id: str,
    truck_id: str,
    start: float,
    end: float,
    end_lat: float,
    end_lon: float,
    now: datetime | None = None,
) -> None:
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
