"""Day plans with chains: several jobs per driver in time order (exact flow, VROOM), versus
greedy; the exact model checked against a textbook MILP on small days."""

import itertools

import numpy as np
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

from dispatch.assignment import exact
from dispatch.assignment.chaining import (
    Chains,
    Legs,
    chain_plan,
    exact_chains,
    flow_plan,
    greedy_chains,
    legs_of,
    plan_jobs,
)
from dispatch.assignment.matching import INFEASIBLE_KM, cost_matrix
from dispatch.assignment.scoring import FleetColumns, Job, Weights
from tests.unit.test_scoring import H, T, fleet


def job(
    lat: float,
    start_h: float,
    hours: float = 2.0,
    *,
    to: float | None = None,
    volume: float = 10.0,
    skills: int = 1,
) -> Job:
    return Job(
        pickup_lat=lat,
        pickup_lon=0.0,
        start=T + start_h * H,
        end=T + (start_h + hours) * H,
        volume_m3=volume,
        required_skills=skills,
        dropoff_lat=lat if to is None else to,
        dropoff_lon=0.0,
    )


def feasible(f, jobs):  # type: ignore[no-untyped-def]
    return cost_matrix(f, jobs, Weights()) < INFEASIBLE_KM


def test_one_driver_takes_a_morning_and_an_afternoon_job_in_order() -> None:
    f = fleet([0.0])
    jobs = [job(0.05, 8, to=0.1), job(0.1, 13)]
    day = plan_jobs(f, jobs, Weights())
    assert day.method == "chains"
    assert [(p.job, p.driver) for p in day.pairs] == [(0, 0), (1, 0)]
    # Deadhead: 0.05 deg to the first pickup, then nothing (dropoff is the next pickup).
    assert day.pairs[1].deadhead_km == 0.0
    assert abs(day.deadhead_km - 5.56) < 0.01
    assert day.pairs[0].truck == day.pairs[1].truck  # the crew keeps its truck


def test_overlapping_jobs_never_share_a_driver() -> None:
    f = fleet([0.0, 0.2], capacity=(40.0, 40.0))
    jobs = [job(0.0, 8), job(0.01, 9), job(0.02, 13)]
    chains = chain_plan(f, jobs, feasible(f, jobs), Weights())
    for _, order in chains.routes:
        windows = sorted((jobs[k].start, jobs[k].end) for k in order)
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(windows))
    assert chains.served == 3


def test_travel_time_between_jobs_is_respected() -> None:
    # The second job starts 10 minutes after the first ends, 111 km away: no single driver.
    f = fleet([0.0, 1.0], capacity=(40.0, 40.0))
    jobs = [job(0.0, 8), job(1.0, 10 + 1 / 6), job(0.0, 20)]
    day = plan_jobs(f, jobs, Weights())
    by_job = {p.job: p.driver for p in day.pairs}
    assert by_job[0] != by_job[1]
    assert len(by_job) == 3


def test_chains_only_use_drivers_allowed_for_the_job() -> None:
    f = fleet([0.0, 0.001], skills=[1, 3])
    jobs = [job(0.0, 8, skills=3), job(0.0, 12, skills=3)]
    day = plan_jobs(f, jobs, Weights())
    assert {p.driver for p in day.pairs} == {1}
    assert len(day.pairs) == 2


def test_vroom_beats_greedy_chains_when_order_matters() -> None:
    # Greedy sends the nearest driver to the 8:00 job, stranding it far from the 12:00 one.
    f = fleet([0.0, 0.3], capacity=(40.0, 40.0))
    jobs = [job(0.02, 8, to=0.3), job(0.31, 12, to=0.0), job(0.0, 12)]
    feas = feasible(f, jobs)
    optimal, baseline = chain_plan(f, jobs, feas, Weights()), greedy_chains(f, jobs, feas, Weights())
    assert optimal.served == baseline.served == 3
    assert optimal.deadhead_km < baseline.deadhead_km


def test_matching_is_kept_when_every_job_has_its_own_driver() -> None:
    f = fleet([0.0, 0.1], capacity=(40.0, 40.0))
    day = plan_jobs(f, [job(0.0, 8), job(0.1, 8)], Weights())
    assert day.method == "matching"
    assert day.deadhead_km == 0.0
    assert np.isclose(day.greedy_deadhead_km, 0.0)


def test_no_truck_no_assignment() -> None:
    f = fleet([0.0], capacity=(5.0,))
    day = plan_jobs(f, [job(0.0, 8, volume=10)], Weights())
    assert day.pairs == [] and day.unassigned == [0]


def test_exact_flow_serves_more_than_greedy_by_start_time() -> None:
    # Greedy by start takes the all-day job; two short ones serve more customers.
    f = fleet([0.0])
    jobs = [job(0.0, 8, hours=9), job(0.0, 9, hours=1), job(0.0, 11, hours=1)]
    feas = feasible(f, jobs)
    assert greedy_chains(f, jobs, feas, Weights()).served == 1
    exact = flow_plan(f, jobs, feas, Weights())
    assert exact.routes == [(0, [1, 2])]
    day = plan_jobs(f, jobs, Weights())
    assert sorted(p.job for p in day.pairs) == [1, 2] and day.greedy_assigned == 1


def test_flow_never_lets_a_job_follow_one_its_drivers_cannot_take() -> None:
    # Driver 0 may take only job 0, driver 1 only job 1: no chain 0 -> 1 under driver 0.
    f = fleet([0.0, 0.0], skills=[1, 3])
    jobs = [job(0.0, 8), job(0.0, 12, skills=3)]
    feas = feasible(f, jobs)
    feas[0, 1] = False
    exact = flow_plan(f, jobs, feas, Weights())
    assert sorted(exact.routes) == [(0, [0]), (1, [1])]


def test_a_packer_takes_a_plain_job_and_then_a_packer_job() -> None:
    # The packer (row 1) is next to both jobs; the plain driver (row 0) is 111 km away. The
    # old flow forbade plain -> packer jobs in one chain (not every driver of the plain job
    # may take the packer one), so one of the two went 111 km.
    f = fleet([1.0, 0.0], skills=[1, 5], capacity=(40.0, 40.0))
    jobs = [job(0.0, 8), job(0.01, 12, skills=5)]
    exact = flow_plan(f, jobs, feasible(f, jobs), Weights())
    assert exact.routes == [(1, [0, 1])]
    assert exact.deadhead_km < 1.2
    # With a third job at the plain driver's door, one driver must chain: the day plan
    # chains the packer's two and proves it optimal.
    jobs.append(job(1.0, 9))
    day = plan_jobs(f, jobs, Weights())
    assert day.method == "chains"
    assert sorted((p.job, p.driver) for p in day.pairs) == [(0, 1), (1, 1), (2, 0)]
    assert day.deadhead_km < 1.2 and day.proof is not None and day.proof.optimal


def reference(feas: np.ndarray, jobs: list[Job], legs: Legs) -> tuple[int, float]:
    """The textbook model, independent of exact.py: one commodity per driver, every arc, most
    jobs served by one HiGHS integer program and then least deadhead among those by a second,
    both to a zero gap. Returns (served, deadhead km)."""
    n, drivers = feas.shape
    ends = np.array([j.end for j in jobs])
    starts = np.array([j.start for j in jobs])
    follow = ends[:, None] + legs.between_km / Weights().speed_kmh * 3600 <= starts[None, :]
    cols: list[tuple[int, int, int, float]] = []  # (driver, tail job or -1, head job, km)
    for d in range(drivers):
        cols += [(d, -1, k, float(legs.start_km[d, k])) for k in range(n) if feas[k, d]]
        cols += [
            (d, j, k, float(legs.between_km[j, k]))
            for j in range(n)
            for k in range(n)
            if follow[j, k] and feas[j, d] and feas[k, d]
        ]
    rows = n + drivers * n + drivers  # cover, conservation per (driver, job), one start each
    a = np.zeros((rows, len(cols)))
    for i, (d, j, k, _) in enumerate(cols):
        a[k, i] = 1
        a[n + d * n + k, i] -= 1
        if j < 0:
            a[n + drivers * n + d, i] = 1
        else:
            a[n + d * n + j, i] += 1
    ub = np.concatenate([np.ones(n), np.zeros(drivers * n), np.ones(drivers)])
    km = np.array([c[3] for c in cols])
    whole = {"integrality": np.ones(len(cols)), "bounds": Bounds(0, 1), "options": {"mip_rel_gap": 0.0}}
    most = milp(-np.ones(len(cols)), constraints=LinearConstraint(a, -np.inf, ub), **whole)
    served = round(-most.fun)
    least = milp(
        km,
        constraints=[
            LinearConstraint(a, -np.inf, ub),
            LinearConstraint(np.ones((1, len(cols))), served, np.inf),
        ],
        **whole,
    )
    return served, float(least.fun)


def random_day(seed: int) -> tuple[FleetColumns, list[Job]]:
    """A small day: packer and plain jobs and drivers, some drivers already busy for a while
    (so drivers of one skill set differ in the jobs they may take)."""
    rng = np.random.default_rng(seed)
    drivers, moves = int(rng.integers(2, 5)), int(rng.integers(5, 10))
    f = fleet(
        list(rng.uniform(0, 0.3, drivers)),
        skills=list(rng.choice([1, 3, 5], drivers)),
        capacity=(40.0,) * moves,
    )
    for d in range(drivers):
        if rng.random() < 0.4:
            at = float(rng.uniform(7, 16))
            f.driver_busy.add(d, T + at * H, T + (at + 1.5) * H, float(rng.uniform(0, 0.3)), 0.0)
    jobs = []
    for _ in range(moves):
        start, hours = float(rng.uniform(7, 17)), float(rng.uniform(0.5, 3))
        jobs.append(
            job(
                float(rng.uniform(0, 0.3)),
                start,
                hours,
                to=float(rng.uniform(0, 0.3)),
                skills=int(rng.choice([1, 1, 5, 3])),
            )
        )
    return f, jobs


def valid(chains: Chains, feas: np.ndarray, jobs: list[Job], legs: Legs) -> bool:
    """Each job at most once, by a driver allowed it, reached in time after the one before."""
    seen = [k for _, order in chains.routes for k in order]
    if len(seen) != len(set(seen)) or len({d for d, _ in chains.routes}) != len(chains.routes):
        return False
    for d, order in chains.routes:
        if not all(feas[k, d] for k in order):
            return False
        for a, b in itertools.pairwise(order):
            drive = legs.between_km[a, b] / Weights().speed_kmh * 3600
            if jobs[a].end + drive > jobs[b].start:
                return False
    return True


@pytest.mark.parametrize("seed", range(30))
def test_exact_chains_match_a_milp_with_one_commodity_per_driver(seed: int) -> None:
    f, jobs = random_day(seed)
    feas = feasible(f, jobs)
    legs = legs_of(f, jobs)
    chains, proof = exact_chains(f, jobs, feas, Weights(), legs=legs)
    served, km = reference(feas, jobs, legs)
    assert valid(chains, feas, jobs, legs)
    assert chains.served == served
    assert abs(chains.deadhead_km - km) < 2e-3
    assert proof is not None and proof.optimal and proof.served == served
    assert proof.bound_km <= km + 2e-3


def test_reference_milp_sees_what_the_old_skill_rule_missed() -> None:
    # Guards the reference itself: on the packer day, it finds the plan that serves both jobs
    # with the packer (about 1.1 km), not the 111 km detour.
    f = fleet([1.0, 0.0], skills=[1, 5])
    jobs = [job(0.0, 8), job(0.01, 12, skills=5)]
    served, km = reference(feasible(f, jobs), jobs, legs_of(f, jobs))
    assert served == 2 and km < 1.2


def test_a_model_too_large_to_build_leaves_the_day_to_vroom(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exact, "MAX_ARCS", 1)
    f = fleet([0.0])
    jobs = [job(0.05, 8, to=0.1), job(0.1, 13)]
    with pytest.raises(exact.TooLarge):
        flow_plan(f, jobs, feasible(f, jobs), Weights())
    day = plan_jobs(f, jobs, Weights())
    assert day.method == "chains" and day.proof is None
    assert [(p.job, p.driver) for p in day.pairs] == [(0, 0), (1, 0)]
