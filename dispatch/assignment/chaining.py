"""Chains of jobs per driver over a day: a vehicle-routing problem with time windows (VROOM).

One-to-one matching (matching.py) gives each driver at most one job. When an org has more
jobs in a day than drivers free for them, a driver has to take several in a row: after one
move ends at its dropoff, drive to the next pickup before that job starts. That is a VRPTW:

* vehicles are drivers, starting where they are (routes are open: no return to a depot);
* a job is served at its pickup, starting exactly at the booking's window start, and keeps
  the driver for the whole window (service time = window length);
* travel from job A to job B is dropoff(A) -> pickup(B), so the duration matrix is
  asymmetric and built here (great-circle at the configured average speed, like scoring);
* which driver may take which job (skills, active and verified, not already busy then) comes
  from the shard's feasibility matrix and is passed to VROOM as skills: job k requires skill
  k, and a driver holds the skills of every job it may take.

VROOM minimizes travel time (deadhead, since every job's own drive is fixed) but its
heuristics, under exact start times, leave some jobs out that a tighter packing serves; its
leftovers are inserted into gaps afterwards. `flow_plan` solves the same question exactly
(exact.py: a min-cost flow with one commodity per class of drivers allowed the same jobs, so
a packer may take a plain job and then a packer job; more jobs served first, then less
deadhead, with a proven lower bound); `plan_jobs` uses it, and asks VROOM only when the
exact model ran out of time before its proof. `greedy_chains` is the baseline: jobs in start
order, each to the nearest driver that can still reach it after its previous job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from dispatch.assignment.exact import Proof, TooLarge, solve_exact
from dispatch.assignment.matching import INFEASIBLE_KM, cost_matrix, greedy, optimal
from dispatch.assignment.scoring import F64, B, FleetColumns, Job, Weights, haversine_km


@dataclass(frozen=True)
class Chains:
    routes: list[tuple[int, list[int]]]  # (driver row, job indices in driving order)
    legs_km: dict[int, float]  # job index -> deadhead km driven to reach its pickup
    deadhead_km: float
    unassigned: list[int]

    @property
    def served(self) -> int:
        return len(self.legs_km)


def _points(fleet: FleetColumns, jobs: list[Job]) -> tuple[F64, F64, F64, F64, F64, F64]:
    """Driver positions, pickups and dropoffs as coordinate columns."""
    d_lat, d_lon = fleet.lat, fleet.lon
    p_lat = np.array([j.pickup_lat for j in jobs])
    p_lon = np.array([j.pickup_lon for j in jobs])
    o_lat = np.array([j.dropoff_lat if j.dropoff_lat is not None else j.pickup_lat for j in jobs])
    o_lon = np.array([j.dropoff_lon if j.dropoff_lon is not None else j.pickup_lon for j in jobs])
    return d_lat, d_lon, p_lat, p_lon, o_lat, o_lon


@dataclass(frozen=True)
class Legs:
    """Every empty drive a day's chains can contain, computed once per plan."""

    start_km: F64  # drivers x jobs: driver's position -> pickup
    between_km: F64  # jobs x jobs: dropoff(a) -> pickup(b)


def legs_of(fleet: FleetColumns, jobs: list[Job]) -> Legs:
    d_lat, d_lon, p_lat, p_lon, o_lat, o_lon = _points(fleet, jobs)
    start = haversine_km(d_lat[:, None], d_lon[:, None], p_lat[None, :], p_lon[None, :])
    between = haversine_km(o_lat[:, None], o_lon[:, None], p_lat[None, :], p_lon[None, :])
    return Legs(np.atleast_2d(start), np.atleast_2d(between))


def candidate_drivers(feasible: B, start_km: F64, limit: int) -> list[int]:
    """Drivers able to take some job, nearest first, at most `limit` (keeps VROOM small)."""
    usable = np.flatnonzero(feasible.any(axis=0))
    if usable.size <= limit:
        return [int(d) for d in usable]
    nearest = np.where(feasible[:, usable], start_km[usable].T, np.inf).min(axis=0)
    return [int(d) for d in usable[np.argsort(nearest, kind="stable")[:limit]]]


def _chains(routes: list[tuple[int, list[int]]], legs: Legs, jobs: int) -> Chains:
    """Routes with the empty km driven to reach each job, and the jobs left out."""
    km: dict[int, float] = {}
    for driver, order in routes:
        previous: int | None = None
        for job in order:
            leg = legs.start_km[driver, job] if previous is None else legs.between_km[previous, job]
            km[job] = round(float(leg), 3)
            previous = job
    return Chains(
        routes=routes,
        legs_km=km,
        deadhead_km=round(sum(km.values()), 3),
        unassigned=[k for k in range(jobs) if k not in km],
    )


def chain_plan(
    fleet: FleetColumns,
    jobs: list[Job],
    feasible: B,
    weights: Weights,
    *,
    legs: Legs | None = None,
    max_drivers: int = 200,
    time_limit_s: float = 1.0,
    exploration: int = 1,
    threads: int = 1,
) -> Chains:
    """VROOM's routes, then its leftovers inserted where they fit. `feasible` is jobs x
    drivers."""
    import vroom  # imported here: the solver is only needed when chains are planned

    legs = legs if legs is not None else legs_of(fleet, jobs)
    drivers = candidate_drivers(feasible, legs.start_km, max_drivers)
    if not jobs or not drivers:
        return Chains([], {}, 0.0, list(range(len(jobs))))
    start_km, between_km = legs.start_km[drivers], legs.between_km
    v, n = len(drivers), len(jobs)
    seconds_per_km = 3600.0 / weights.speed_kmh
    durations = np.zeros((v + n, v + n), dtype=np.int64)
    durations[:v, v:] = np.ceil(start_km * seconds_per_km)
    durations[v:, v:] = np.ceil(between_km * seconds_per_km)
    origin = min(job.start for job in jobs) - 86_400.0  # times relative to this, all >= 0

    problem = vroom.Input()
    problem.set_durations_matrix(profile="car", matrix_input=durations)
    for i, row in enumerate(drivers):
        skills = {k + 1 for k in np.flatnonzero(feasible[:, row]).tolist()}
        problem.add_vehicle(vroom.Vehicle(i + 1, start=i, skills=skills))
    for k, job in enumerate(jobs):
        begin = round(job.start - origin)
        problem.add_job(
            vroom.Job(
                k + 1,
                location=v + k,
                default_service=max(0, round(job.end - job.start)),
                skills={k + 1},
                time_windows=[vroom.TimeWindow(begin, begin)],
            )
        )
    solution = problem.solve(
        exploration_level=exploration, nb_threads=threads, timeout=timedelta(seconds=time_limit_s)
    )
    routes = _insert_leftovers(jobs, feasible, weights, legs, _routes_of(solution.routes, drivers))
    return _chains(routes, legs, n)


def _insert_leftovers(
    jobs: list[Job], feasible: B, weights: Weights, legs: Legs, routes: list[tuple[int, list[int]]]
) -> list[tuple[int, list[int]]]:
    """Repair: put each job the solver left out into the cheapest gap of any driver's day
    that it fits (reachable after the job before it, and leaving time to reach the next).
    The heuristic search can leave jobs out under tight time windows; this keeps the plan
    from serving fewer jobs than greedy would."""
    start_km, between_km = legs.start_km, legs.between_km
    to_s = 3600.0 / weights.speed_kmh
    day: dict[int, list[int]] = {row: [] for row in range(feasible.shape[1])}
    for row, order in routes:
        day[row] = list(order)
    placed = {k for _, order in routes for k in order}
    for k in sorted(set(range(len(jobs))) - placed, key=lambda i: jobs[i].start):
        best: tuple[float, int, int] | None = None
        for row in np.flatnonzero(feasible[k]).tolist():
            order = day[row]
            at = sum(1 for j in order if jobs[j].start < jobs[k].start)
            before = order[at - 1] if at else None
            after = order[at] if at < len(order) else None
            come = start_km[row, k] if before is None else between_km[before, k]
            if before is not None and jobs[before].end + come * to_s > jobs[k].start:
                continue
            if after is not None and jobs[k].end + between_km[k, after] * to_s > jobs[after].start:
                continue
            old = (
                0.0
                if after is None
                else (start_km[row, after] if before is None else between_km[before, after])
            )
            delta = come + (0.0 if after is None else between_km[k, after]) - old
            if best is None or delta < best[0]:
                best = (float(delta), row, at)
        if best is not None:
            day[best[1]].insert(best[2], k)
    return [(row, order) for row, order in day.items() if order]


def _routes_of(table: Any, drivers: list[int]) -> list[tuple[int, list[int]]]:
    """VROOM's route table (one row per step) -> (driver row, job indices) per used vehicle."""
    steps = table[table["type"] == "job"]
    routes: list[tuple[int, list[int]]] = []
    for vehicle_id, group in steps.groupby("vehicle_id", sort=True):
        order = group.sort_values("arrival")
        routes.append((drivers[int(vehicle_id) - 1], [int(j) - 1 for j in order["id"]]))
    return routes


def greedy_chains(
    fleet: FleetColumns, jobs: list[Job], feasible: B, weights: Weights, *, legs: Legs | None = None
) -> Chains:
    """Baseline: jobs by start time, each to the nearest driver able to reach it in time."""
    n_drivers = len(fleet.driver_ids)
    if not jobs or n_drivers == 0:
        return Chains([], {}, 0.0, list(range(len(jobs))))
    legs = legs if legs is not None else legs_of(fleet, jobs)
    start_km, between_km = legs.start_km, legs.between_km
    free_at = np.full(n_drivers, -np.inf)
    last_job = np.full(n_drivers, -1, dtype=np.int64)
    routes: dict[int, list[int]] = {}
    for k in sorted(range(len(jobs)), key=lambda i: jobs[i].start):
        km = np.where(last_job < 0, start_km[:, k], between_km[last_job, k])
        reach = free_at + km / weights.speed_kmh * 3600.0
        ok = feasible[k] & (reach <= jobs[k].start)
        if not ok.any():
            continue
        d = int(np.argmin(np.where(ok, km, np.inf)))
        routes.setdefault(d, []).append(k)
        free_at[d], last_job[d] = jobs[k].end, k
    return _chains(sorted(routes.items()), legs, len(jobs))


@dataclass(frozen=True)
class PlannedPair:
    job: int
    driver: int  # row
    truck: int  # row
    deadhead_km: float


@dataclass(frozen=True)
class DayPlan:
    method: str  # "matching" (one job per driver) or "chains" (several per driver)
    pairs: list[PlannedPair]
    deadhead_km: float
    greedy_deadhead_km: float
    greedy_assigned: int
    unassigned: list[int]
    proof: Proof | None = None  # chains only: how close to the optimum the exact model got


def plan_jobs(
    fleet: FleetColumns,
    jobs: list[Job],
    weights: Weights,
    *,
    max_drivers: int = 200,
    time_limit_s: float = 1.0,
    exact_time_limit_s: float = 10.0,
) -> DayPlan:
    """The day's plan: optimal one-to-one matching; when that leaves jobs some driver could
    still take after another one (more jobs than drivers), chains instead from the exact
    model (most jobs served, then least deadhead, proven). Only when the exact model runs
    out of time (`exact_time_limit_s`) before its proof, or would be too large to build, is
    VROOM's plan (`time_limit_s`) asked too, and the better of the two kept."""
    matrix = cost_matrix(fleet, jobs, weights)
    feasible = matrix < INFEASIBLE_KM
    best, baseline = optimal(matrix), greedy(matrix)
    method = "matching"
    routes = [(d, [j]) for j, d in best.pairs]
    km = {j: round(float(matrix[j, d]), 3) for j, d in best.pairs}
    greedy_km, greedy_served = baseline.deadhead_km, len(baseline.pairs)
    proof: Proof | None = None
    if any(feasible[j].any() for j in best.unassigned):
        legs = legs_of(fleet, jobs)
        try:
            chains, proof = exact_chains(
                fleet, jobs, feasible, weights, legs=legs, time_limit_s=exact_time_limit_s
            )
        except (TimeoutError, TooLarge):  # VROOM's plan alone, below
            chains = Chains([], {}, 0.0, list(range(len(jobs))))
        if proof is None or not proof.optimal:
            routed = chain_plan(
                fleet, jobs, feasible, weights, legs=legs, max_drivers=max_drivers, time_limit_s=time_limit_s
            )
            chains = min((chains, routed), key=lambda c: (-c.served, c.deadhead_km))
        if chains.served > len(best.pairs) or (
            chains.served == len(best.pairs) and chains.deadhead_km < best.deadhead_km
        ):
            method, routes, km = "chains", chains.routes, chains.legs_km
            chained_baseline = greedy_chains(fleet, jobs, feasible, weights, legs=legs)
            greedy_km, greedy_served = chained_baseline.deadhead_km, chained_baseline.served
        else:
            proof = None
    pairs = _with_trucks(fleet, jobs, routes, km)
    done = {p.job for p in pairs}
    return DayPlan(
        method=method,
        pairs=pairs,
        deadhead_km=round(sum(p.deadhead_km for p in pairs), 3),
        greedy_deadhead_km=greedy_km,
        greedy_assigned=greedy_served,
        unassigned=[k for k in range(len(jobs)) if k not in done],
        proof=proof,
    )


def _with_trucks(
    fleet: FleetColumns, jobs: list[Job], routes: list[tuple[int, list[int]]], km: dict[int, float]
) -> list[PlannedPair]:
    """A truck per job: free then (existing bookings and this plan), big enough, the route's
    previous truck preferred so a crew keeps its truck through the day."""
    planned: dict[int, list[tuple[float, float]]] = {}
    pairs: list[PlannedPair] = []
    for driver, order in routes:
        previous: int | None = None
        for k in order:
            truck = _truck_for(fleet, jobs[k], planned, previous)
            if truck is None:
                continue
            planned.setdefault(truck, []).append((jobs[k].start, jobs[k].end))
            pairs.append(PlannedPair(job=k, driver=driver, truck=truck, deadhead_km=km[k]))
            previous = truck
    return pairs


def _truck_for(
    fleet: FleetColumns, job: Job, planned: dict[int, list[tuple[float, float]]], preferred: int | None
) -> int | None:
    ok = fleet.truck_active & (fleet.truck_capacity >= job.volume_m3)
    ok &= ~fleet.truck_busy.blocked(len(fleet.truck_ids), job.start, job.end, 0.0)
    candidates = np.flatnonzero(ok)
    candidates = candidates[np.argsort(fleet.truck_capacity[candidates], kind="stable")]
    order = [preferred] if preferred is not None and ok[preferred] else []
    order += [int(t) for t in candidates if int(t) != preferred]
    for truck in order:
        if all(end <= job.start or start >= job.end for start, end in planned.get(truck, [])):
            return truck
    return None


def flow_plan(
    fleet: FleetColumns,
    jobs: list[Job],
    feasible: B,
    weights: Weights,
    *,
    legs: Legs | None = None,
    time_limit_s: float = 30.0,
) -> Chains:
    """Exact chains: the most jobs served, then the least deadhead (exact.py: one flow
    commodity per class of drivers allowed the same jobs, solved by HiGHS with a proof)."""
    return exact_chains(fleet, jobs, feasible, weights, legs=legs, time_limit_s=time_limit_s)[0]


def exact_chains(
    fleet: FleetColumns,
    jobs: list[Job],
    feasible: B,
    weights: Weights,
    *,
    legs: Legs | None = None,
    time_limit_s: float = 30.0,
) -> tuple[Chains, Proof | None]:
    """flow_plan with its proof (None when there is nothing to plan)."""
    if not jobs or not len(fleet.driver_ids) or not feasible.any():
        return Chains([], {}, 0.0, list(range(len(jobs)))), None
    legs = legs if legs is not None else legs_of(fleet, jobs)
    routes, proof = solve_exact(
        feasible, jobs, legs.start_km, legs.between_km, weights, time_limit_s=time_limit_s
    )
    return _chains(routes, legs, len(jobs)), proof
