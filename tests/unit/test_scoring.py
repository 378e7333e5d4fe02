"""Scoring and matching rules on small hand-made fleets."""

import numpy as np

from dispatch.assignment.matching import cost_matrix, greedy, optimal
from dispatch.assignment.scoring import Busy, FleetColumns, Job, Weights, haversine_km, rank

T = 1_800_000_000.0  # a start time, epoch seconds
H = 3600.0


def fleet(
    lats: list[float],
    *,
    eligible: list[bool] | None = None,
    skills: list[int] | None = None,
    rating: list[float] | None = None,
    capacity: tuple[float, ...] = (40.0,),
) -> FleetColumns:
    n = len(lats)
    return FleetColumns(
        driver_ids=[f"d{i}" for i in range(n)],
        lat=np.array(lats, float),
        lon=np.zeros(n),
        eligible=np.array(eligible or [True] * n),
        skills=np.array(skills or [1] * n),
        rating=np.array(rating or [4.0] * n),
        jobs_today=np.zeros(n, np.int64),
        idle_since=np.full(n, T),
        truck_ids=[f"t{i}" for i in range(len(capacity))],
        truck_capacity=np.array(capacity),
        truck_active=np.ones(len(capacity), bool),
    )


JOB = Job(pickup_lat=0.0, pickup_lon=0.0, start=T + 2 * H, end=T + 5 * H, volume_m3=20, required_skills=1)


def test_haversine_one_degree_latitude() -> None:
    assert abs(float(haversine_km(0.0, 0.0, 1.0, 0.0)) - 111.195) < 0.01


def test_nearest_eligible_driver_wins_with_breakdown() -> None:
    ranked = rank(fleet([0.5, 0.1, 0.05], eligible=[True, True, False]), JOB, Weights())
    assert [c.driver_id for c in ranked] == ["d1", "d0"]
    assert ranked[0].breakdown["deadhead_km"] == round(float(haversine_km(0.1, 0, 0, 0)), 3)


def test_rating_and_fairness_shift_the_choice() -> None:
    f = fleet([0.01, 0.011], rating=[3.0, 5.0])
    assert rank(f, JOB, Weights())[0].driver_id == "d1"  # 10 stars-worth beats 0.1 km
    f.jobs_today[1] = 10
    assert rank(f, JOB, Weights())[0].driver_id == "d0"


def test_busy_overlap_skills_and_capacity_exclude() -> None:
    f = fleet([0.01, 0.02, 0.03], skills=[1, 3, 3])
    f.driver_busy = Busy()
    f.driver_busy.add(1, T + 4 * H, T + 6 * H, 0.0, 0.0)  # overlaps the job window
    foreman_job = Job(0, 0, T + 2 * H, T + 5 * H, 20, required_skills=3)
    assert [c.driver_id for c in rank(f, foreman_job, Weights())] == ["d2"]
    assert rank(f, Job(0, 0, T, T + H, 41, 1), Weights()) == []  # no truck big enough


def test_previous_job_end_position_and_travel_time() -> None:
    f = fleet([0.5])
    f.driver_busy.add(0, T, T + 2 * H - 60, 0.001, 0.0)  # ends next to the pickup, 1 min before
    assert rank(f, JOB, Weights())[0].breakdown["deadhead_km"] < 0.2
    f.driver_busy = Busy()
    f.driver_busy.add(0, T, T + 2 * H - 60, 1.0, 0.0)  # ends 111 km away, 1 min before
    assert rank(f, JOB, Weights()) == []


def test_optimal_beats_greedy_on_a_crossing() -> None:
    # Greedy gives job 0 the driver that job 1 needed: 10 + 33 km; optimal 22 + 1 km.
    f = fleet([0.09, -0.2])
    jobs = [Job(0.0, 0, T, T + H, 10, 1), Job(0.1, 0, T, T + H, 10, 1)]
    matrix = cost_matrix(f, jobs, Weights())
    assert greedy(matrix).pairs == [(0, 0), (1, 1)]
    assert optimal(matrix).pairs == [(0, 1), (1, 0)]
    assert optimal(matrix).deadhead_km < 0.6 * greedy(matrix).deadhead_km
