"""Exact day chains with skills: one flow commodity per feasibility class, priced column by column.

The question (see chaining.py): drivers take chains of jobs in time order; job k may follow
job j when the driver, done at dropoff(j), reaches pickup(k) by its start. Serve as many jobs
as possible, then drive as little empty as possible.

Model. Drivers whose feasibility columns are identical (same allowed jobs: with skills only,
one class per skill set) form a class c. For each class there is one flow commodity on the
DAG of jobs it may take: a start arc from each driver d of the class to each job it may take
first (cost: d's position -> pickup), and a follow arc j -> k for every pair the class may
take in a row (cost: dropoff(j) -> pickup(k)). Rows:

* each driver sends at most one unit (its day has one first job);
* per class and job: the class's outflow <= its inflow (a chain ends anywhere);
* per job: the inflow summed over classes <= 1 (each job served at most once).

Why it is exact: an integral solution splits, class by class, into paths (the graph is
time-ordered, so it has no cycles); every path starts at one driver of its class and only
visits jobs that every driver of that class, so that one too, is allowed; paths do not share a
job. Conversely every plan of chains is such a flow. Unlike the old single-commodity flow, a
packer may take a plain job and then a packer job (only the packers' commodity carries that
arc), and no follow arc is dropped. Served jobs first: each arc costs its km minus R, with
R = 1 + the sum over jobs of the longest arc into them, more than any plan's whole deadhead,
so one more job served always beats any saving in km.

Solve. The model has drivers x jobs + classes x job pairs arcs (about 50,000 for 300 moves
and 45 drivers in two skill classes); HiGHS takes it whole too slowly (about a minute). It is
solved by column generation with a proof:

1. the LP over a few nearest and soonest arcs per driver and job, re-priced over every arc
   with the LP's duals; LB = the LP's value + every negative reduced cost left out is a lower
   bound for the whole model (x <= 1), and pricing stops once that sum is small;
2. the integer program over the arcs whose reduced cost is at most a slack (about 0.1 % of
   the deadhead): a plan using any other arc costs more than LB + slack, so if the incumbent
   is within the slack of LB it is optimal over the whole model; otherwise the slack widens
   to twice the distance and the integer program runs again.

The answer carries its proof: a lower bound on the deadhead of any plan serving as many jobs,
and whether a plan serving more can exist.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse import coo_matrix, csr_matrix

from dispatch.assignment.scoring import F64, B, Job, Weights

I64 = npt.NDArray[np.int64]
_EPS = 1e-7  # reduced costs above -_EPS count as non-negative (HiGHS's dual tolerance)
# Interior point (with crossover): its duals price fewer useless arcs than a dual simplex
# vertex's on this degenerate LP, so fewer pricing rounds (measured on the bench's chain day).
_LP_METHOD = "highs-ipm"
_STOP = 0.5  # pricing stops once the arcs left out can lower the LP by < _STOP x slack
_CAP = 4  # arcs added per pricing round: at most _CAP per job (and at least 500)


@dataclass(frozen=True)
class Proof:
    """How good an exact plan is known to be."""

    served: int
    deadhead_km: float
    bound_km: float  # no plan serving `served` jobs drives less empty than this
    served_is_max: bool  # no plan serves more jobs
    classes: int  # feasibility classes (flow commodities)
    arcs: int  # arcs in the last integer program
    universe: int  # arcs of the whole model
    rounds: int  # LP pricing rounds plus integer programs solved
    solve_s: float

    @property
    def optimal(self) -> bool:
        """Most jobs served, and deadhead within 0.001 % of the lower bound."""
        return self.served_is_max and self.gap <= 1e-5

    @property
    def gap(self) -> float:
        """Relative deadhead gap to the proven lower bound (an upper bound on the true gap)."""
        return max(0.0, self.deadhead_km - self.bound_km) / max(self.bound_km, 1e-9)


@dataclass(frozen=True)
class Arcs:
    """Every arc of the model as columns; start arcs have tail_job -1, follow arcs driver -1."""

    driver: I64
    tail_job: I64
    head: I64
    cls: I64
    km: F64

    def __len__(self) -> int:
        return len(self.head)


def classes_of(feasible: B) -> tuple[B, I64]:
    """Distinct feasibility columns (jobs a driver may take) and each driver's class."""
    columns, inverse = np.unique(feasible.T, axis=0, return_inverse=True)
    return columns.astype(bool), np.asarray(inverse, dtype=np.int64).ravel()


MAX_ARCS = 2_000_000  # beyond this the model is not built (memory; HiGHS would not finish)


class TooLarge(Exception):
    """The exact model would have more than MAX_ARCS arcs (many drivers with different
    feasibility columns, for example each busy at other times, times many jobs)."""


def arcs_of(
    feasible: B,
    jobs: list[Job],
    start_km: F64,
    between_km: F64,
    weights: Weights,
    *,
    max_arcs: int | None = None,
) -> tuple[Arcs, int]:
    """The whole arc universe and the number of classes (TooLarge past `max_arcs`, by
    default MAX_ARCS)."""
    columns, cls = classes_of(feasible)
    starts = np.array([j.start for j in jobs])
    ends = np.array([j.end for j in jobs])
    follow = ends[:, None] + between_km * (3600.0 / weights.speed_kmh) <= starts[None, :]
    limit = MAX_ARCS if max_arcs is None else max_arcs
    allowed = columns.astype(np.float32)  # classes x jobs; pairs per class in one product
    size = int(feasible.sum()) + int(((allowed @ follow.astype(np.float32)) * allowed).sum())
    if size > limit:
        raise TooLarge(f"day plan: {size} arcs in the exact model (at most {limit})")
    first_k, first_d = np.nonzero(feasible)
    parts = [(first_d, np.full(len(first_k), -1), first_k, cls[first_d], start_km[first_d, first_k])]
    for c, allowed in enumerate(columns):
        j, k = np.nonzero(follow & allowed[:, None] & allowed[None, :])
        parts.append((np.full(len(j), -1), j, k, np.full(len(j), c), between_km[j, k]))
    driver, tail, head, klass, km = (np.concatenate([p[i] for p in parts]) for i in range(5))
    return Arcs(
        driver.astype(np.int64),
        tail.astype(np.int64),
        head.astype(np.int64),
        klass.astype(np.int64),
        km.astype(np.float64),
    ), len(columns)


def _matrix(arcs: Arcs, chosen: I64, n: int, classes: int, drivers: int) -> csr_matrix:
    """Rows: cover (n), conservation per class and job (classes x n), drivers."""
    head, tail = arcs.head[chosen], arcs.tail_job[chosen]
    cls, driver = arcs.cls[chosen], arcs.driver[chosen]
    col = np.arange(len(chosen))
    start = tail < 0
    rows = np.concatenate(
        [head, n + cls * n + head, np.where(start, n + classes * n + driver, n + cls * n + tail)]
    )
    vals = np.concatenate([np.ones(len(col)), -np.ones(len(col)), np.ones(len(col))])
    return coo_matrix(
        (vals, (rows, np.concatenate([col, col, col]))), shape=(n + classes * n + drivers, len(chosen))
    ).tocsr()


def _reduced(arcs: Arcs, cost: F64, duals: F64, n: int, classes: int) -> F64:
    """Reduced cost of every arc under the LP's duals (all <= 0 for Ax <= b)."""
    cover, conserve, drivers = duals[:n], duals[n : n + classes * n], duals[n + classes * n :]
    out = cost - cover[arcs.head] + conserve[arcs.cls * n + arcs.head]
    start = arcs.tail_job < 0
    tail_dual = np.where(
        start, drivers[np.maximum(arcs.driver, 0)], conserve[arcs.cls * n + np.maximum(arcs.tail_job, 0)]
    )
    return np.asarray(out - tail_dual)


def _seed(arcs: Arcs, starts: F64, per_job: int) -> B:
    """A first arc set: the `per_job` nearest and soonest arcs out of each driver and (per
    class) each job, and the nearest into each job."""
    keep = np.zeros(len(arcs), dtype=bool)
    jobs = int(max(arcs.head.max(), arcs.tail_job.max())) + 1
    drivers = int(arcs.driver.max()) + 1
    tail_key = np.where(arcs.tail_job < 0, arcs.driver, drivers + arcs.cls * jobs + arcs.tail_job)
    head_key = arcs.cls * jobs + arcs.head
    for key, score in ((tail_key, arcs.km), (tail_key, starts[arcs.head]), (head_key, arcs.km)):
        order = np.lexsort((score, key))
        grouped = key[order]
        rank = np.arange(len(order)) - np.searchsorted(grouped, grouped, side="left")
        keep[order[rank < per_job]] = True
    return keep


def solve_exact(
    feasible: B,
    jobs: list[Job],
    start_km: F64,
    between_km: F64,
    weights: Weights,
    *,
    time_limit_s: float = 30.0,
    per_job: int = 6,
    gap: float = 1e-6,
    slack_share: float = 1e-3,
) -> tuple[list[tuple[int, list[int]]], Proof]:
    """Routes (driver row, job indices in order) of a plan with the most jobs served and,
    among those, the least deadhead, with its proof. `feasible` is jobs x drivers; `gap` is
    the relative deadhead gap at which HiGHS may stop; `per_job` sizes the first arc set and
    `slack_share` the first reduced-cost window (a share of the LP's deadhead). Past
    `time_limit_s` the best plan found so far comes back with a weaker proof."""
    began = time.perf_counter()
    n, drivers = feasible.shape
    arcs, classes = arcs_of(feasible, jobs, start_km, between_km, weights)
    if len(arcs) == 0:
        return [], Proof(0, 0.0, 0.0, True, classes, 0, 0, 0, time.perf_counter() - began)
    longest_in = np.zeros(n)
    np.maximum.at(longest_in, arcs.head, arcs.km)
    reward = 1.0 + float(longest_in.sum())
    cost = arcs.km - reward
    b = np.concatenate([np.ones(n), np.zeros(classes * n), np.ones(drivers)])
    starts = np.array([j.start for j in jobs])
    inside = _seed(arcs, starts, per_job)
    rounds = 0
    while True:  # LP over the arcs kept, priced over all of them
        rounds += 1
        chosen = np.flatnonzero(inside)
        lp = linprog(
            cost[chosen],
            A_ub=_matrix(arcs, chosen, n, classes, drivers),
            b_ub=b,
            bounds=(0, 1),
            method=_LP_METHOD,
        )
        if lp.status != 0:  # x = 0 is feasible and the costs are bounded: numerical trouble
            raise RuntimeError(f"day plan: HiGHS could not solve the LP ({lp.message})")
        reduced = _reduced(arcs, cost, np.asarray(lp.ineqlin.marginals), n, classes)
        entering = np.flatnonzero(~inside & (reduced < -_EPS))
        # Every plan costs at least the LP's value plus the negative reduced costs left out.
        lp_value = float(lp.fun) + float(reduced[entering].sum())
        slack = max(1.0, slack_share * float(arcs.km[chosen] @ lp.x))
        if float(lp.fun) - lp_value <= _STOP * slack or time.perf_counter() - began > time_limit_s:
            break
        take = entering[np.argsort(reduced[entering])[: max(_CAP * n, 500)]]
        inside[take] = True
    lp_km = float(arcs.km[chosen] @ lp.x)
    # Integer program over the arcs whose reduced cost is at most `slack`: a plan using any
    # other arc costs more than lp_value + slack, so once the incumbent is within slack of
    # lp_value, it is optimal over the whole model.
    while True:
        rounds += 1
        chosen = np.flatnonzero(reduced <= slack)
        left = max(0.1, time_limit_s - (time.perf_counter() - began))
        result = milp(
            cost[chosen],
            integrality=np.ones(len(chosen)),
            bounds=Bounds(0, 1),
            constraints=LinearConstraint(_matrix(arcs, chosen, n, classes, drivers), -np.inf, b),
            options={"time_limit": left, "mip_rel_gap": gap * max(1.0, lp_km) / max(1.0, abs(lp_value))},
        )
        if result.x is None:  # out of time before any plan (x = 0 is one, but not found yet)
            raise TimeoutError(f"day plan: no plan within {time_limit_s} s ({result.message})")
        incumbent = float(result.fun)
        if incumbent - lp_value <= slack or time.perf_counter() - began > time_limit_s:
            break
        slack = 2.0 * (incumbent - lp_value)
    picked = chosen[result.x > 0.5]
    rest = reduced[reduced > slack]
    bound = float(result.mip_dual_bound if result.mip_dual_bound is not None else lp_value)
    if rest.size:
        bound = min(bound, lp_value + float(rest.min()))
    served = len(picked)
    deadhead = float(arcs.km[picked].sum())
    # A plan serving one more job would cost at most -(served + 1) * reward + (reward - 1).
    served_is_max = bound > -(served + 1) * reward + reward - 1.0
    proof = Proof(
        served=served,
        deadhead_km=round(deadhead, 3),
        bound_km=round(min(deadhead, bound + served * reward), 3),
        served_is_max=bool(served_is_max),
        classes=classes,
        arcs=len(chosen),
        universe=len(arcs),
        rounds=rounds,
        solve_s=time.perf_counter() - began,
    )
    return _routes(arcs, picked), proof


def _routes(arcs: Arcs, picked: I64) -> list[tuple[int, list[int]]]:
    first = {int(arcs.head[a]): int(arcs.driver[a]) for a in picked if arcs.tail_job[a] < 0}
    nxt = {int(arcs.tail_job[a]): int(arcs.head[a]) for a in picked if arcs.tail_job[a] >= 0}
    routes: list[tuple[int, list[int]]] = []
    for k, d in sorted(first.items(), key=lambda kd: kd[1]):
        order = [k]
        while order[-1] in nxt:
            order.append(nxt[order[-1]])
        routes.append((d, order))
    return routes
