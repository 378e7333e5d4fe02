"""Day plans with chains: several jobs per driver in time order (VROOM), versus greedy."""

import itertools

import numpy as np

from dispatch.assignment.chaining import chain_plan, flow_plan, greedy_chains, plan_jobs
from dispatch.assignment.matching import INFEASIBLE_KM, cost_matrix
from dispatch.assignment.scoring import Job, Weights
from tests.unit.test_scoring import H, T, fleet


def job(lat: float, start_h: float, hours: float = 2.0, *, to: float | None = None,
        volume: float = 10.0, skills: int = 1) -> Job:
    return Job(pickup_lat=lat, pickup_lon=0.0, start=T + start_h * H,
               end=T + (start_h + hours) * H, volume_m3=volume, required_skills=skills,
               dropoff_lat=lat if to is None else to, dropoff_lon=0.0)


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
