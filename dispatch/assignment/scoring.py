"""Ranking (driver, truck) pairs for a booking: pure, vectorized over a whole fleet.

A fleet is columnar (one NumPy array per attribute); busy time is a flat list of intervals
owned by row indices. One call answers one booking for thousands of drivers without a loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

EARTH_RADIUS_KM: Final = 6371.0088
SKILL_BITS: Final[dict[str, int]] = {"driver": 1, "foreman": 2, "packer": 4}
NO_SCORE: Final = np.inf

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]


def skill_mask(skills: list[str] | tuple[str, ...]) -> int:
    mask = 0
    for skill in skills:
        mask |= SKILL_BITS.get(skill, 0)
    return mask


def haversine_km(lat1: F64 | float, lon1: F64 | float, lat2: F64 | float, lon2: F64 | float) -> F64:
    """Great-circle distance, element-wise (arrays broadcast)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))))


@dataclass
class Busy:
    """Intervals (epoch seconds) held by rows of a fleet, with where each one ends."""

    owner: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    start: F64 = field(default_factory=lambda: np.zeros(0))
    end: F64 = field(default_factory=lambda: np.zeros(0))
    end_lat: F64 = field(default_factory=lambda: np.zeros(0))
    end_lon: F64 = field(default_factory=lambda: np.zeros(0))

    def add(self, owner: int, start: float, end: float, end_lat: float, end_lon: float) -> None:
        self.owner = np.append(self.owner, owner)
        self.start = np.append(self.start, start)
        self.end = np.append(self.end, end)
        self.end_lat = np.append(self.end_lat, end_lat)
        self.end_lon = np.append(self.end_lon, end_lon)

    def blocked(self, rows: int, window_start: float, window_end: float, buffer_s: float) -> B:
        """Rows holding any interval that overlaps [start - buffer, end + buffer)."""
        hit = (self.start < window_end + buffer_s) & (self.end + buffer_s > window_start)
        mask = np.zeros(rows, dtype=bool)
        mask[self.owner[hit]] = True
        return mask

    def positions_before(self, rows: int, at: float, lat: F64, lon: F64) -> tuple[F64, F64]:
        """Where each row will be at `at`: the end of its last job before then, else now."""
        lat, lon = lat.copy(), lon.copy()
        before = self.end <= at
        if before.any():
            order = np.argsort(self.end[before])  # later ends overwrite earlier ones
            owners = self.owner[before][order]
            lat[owners] = self.end_lat[before][order]
            lon[owners] = self.end_lon[before][order]
        return lat, lon


@dataclass
class FleetColumns:
    """One organization's drivers and trucks as columns (row i = driver i / truck i)."""

    driver_ids: list[str]
    lat: F64
    lon: F64
    eligible: B  # active and verified
    skills: I64
    rating: F64
    jobs_today: I64
    idle_since: F64  # epoch seconds of the last job's end (or shift start)
    truck_ids: list[str]
    truck_capacity: F64
    truck_active: B
    driver_busy: Busy = field(default_factory=Busy)
    truck_busy: Busy = field(default_factory=Busy)


@dataclass(frozen=True)
class Weights:
    distance: float = 1.0  # per km of deadhead
    rating: float = 5.0  # per star above 3
    fairness: float = 2.0  # per job already given today
    idle: float = 0.5  # per hour idle (bonus)
    speed_kmh: float = 40.0


@dataclass(frozen=True)
class Job:
    pickup_lat: float
    pickup_lon: float
    start: float
    end: float
    volume_m3: float
    required_skills: int
    dropoff_lat: float | None = None  # where the job ends (None: at the pickup)
    dropoff_lon: float | None = None


@dataclass(frozen=True)
class Candidate:
    driver_id: str
    truck_id: str
    score: float
    breakdown: dict[str, float]


def driver_costs(fleet: FleetColumns, job: Job, weights: Weights) -> tuple[F64, F64]:
    """(cost per driver with inf where infeasible, deadhead km per driver)."""
    n = len(fleet.driver_ids)
    lat, lon = fleet.driver_busy.positions_before(n, job.start, fleet.lat, fleet.lon)
    deadhead = haversine_km(lat, lon, job.pickup_lat, job.pickup_lon)
    travel_s = deadhead / weights.speed_kmh * 3600.0
    feasible = fleet.eligible & ((fleet.skills & job.required_skills) == job.required_skills)
    # Free for the window, and able to reach the pickup after the previous job.
    feasible &= ~fleet.driver_busy.blocked(n, job.start, job.end, 0.0)
    feasible &= ~_cannot_reach(fleet.driver_busy, n, job.start, travel_s)
    idle_h = np.clip((job.start - fleet.idle_since) / 3600.0, 0.0, 24.0)
    cost = (
        weights.distance * deadhead
        - weights.rating * (fleet.rating - 3.0)
        + weights.fairness * fleet.jobs_today
        - weights.idle * idle_h
    )
    return np.where(feasible, cost, NO_SCORE), deadhead


def _cannot_reach(busy: Busy, rows: int, start: float, travel_s: F64) -> B:
    """Rows whose previous job ends too late to drive to the pickup in time."""
    ends_before = busy.end <= start
    late = np.zeros(rows, dtype=bool)
    if ends_before.any():
        owners = busy.owner[ends_before]
        late_rows = busy.end[ends_before] + travel_s[owners] > start
        late[owners[late_rows]] = True
    return late


def free_trucks(fleet: FleetColumns, job: Job) -> I64:
    """Indices of trucks able to carry the job, smallest sufficient capacity first."""
    ok = fleet.truck_active & (fleet.truck_capacity >= job.volume_m3)
    ok &= ~fleet.truck_busy.blocked(len(fleet.truck_ids), job.start, job.end, 0.0)
    idx = np.flatnonzero(ok)
    return idx[np.argsort(fleet.truck_capacity[idx], kind="stable")]


def rank(fleet: FleetColumns, job: Job, weights: Weights, limit: int = 5) -> list[Candidate]:
    """The best `limit` feasible (driver, truck) pairs, best first, with their breakdowns."""
    if not fleet.driver_ids or not fleet.truck_ids:
        return []
    cost, deadhead = driver_costs(fleet, job, weights)
    trucks = free_trucks(fleet, job)
    feasible = np.flatnonzero(np.isfinite(cost))
    if feasible.size == 0 or trucks.size == 0:
        return []
    take = min(limit, feasible.size)
    best = feasible[np.argpartition(cost[feasible], take - 1)[:take]]
    best = best[np.argsort(cost[best], kind="stable")]
    out: list[Candidate] = []
    for i, row in enumerate(best):
        truck = trucks[min(i, trucks.size - 1)]  # spread candidates over the best trucks
        out.append(
            Candidate(
                driver_id=fleet.driver_ids[row],
                truck_id=fleet.truck_ids[truck],
                score=round(float(cost[row]), 3),
                breakdown={
                    "deadhead_km": round(float(deadhead[row]), 3),
                    "distance": round(weights.distance * float(deadhead[row]), 3),
                    "rating": round(-weights.rating * (float(fleet.rating[row]) - 3.0), 3),
                    "fairness": round(weights.fairness * float(fleet.jobs_today[row]), 3),
                    "idle": round(
                        -weights.idle
                        * float(np.clip((job.start - fleet.idle_since[row]) / 3600.0, 0.0, 24.0)),
                        3,
                    ),
                    "truck_capacity_m3": float(fleet.truck_capacity[truck]),
                },
            )
        )
    return out
