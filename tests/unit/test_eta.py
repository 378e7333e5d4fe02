"""The ETA model (dispatch/tracking/rules.py), the shard's job.eta events (actors/live.py) and
the signed tracking links (dispatch/tracking/links.py)."""

import math

import numpy as np
import pytest
from shapely.geometry import Point
from shapely.prepared import prep

from actors.fleet_state import LiveColumns, OrgState
from actors.live import apply_pings, set_job
from dispatch.assignment.scoring import FleetColumns
from dispatch.pricing import Pricing
from dispatch.tracking import rules
from dispatch.tracking.rules import Estimate, EtaModel

MODEL = EtaModel(road_factor=1.3, default_speed_mps=10.0, floor_fraction=0.4, smoothing_s=60.0, near_s=600.0)
M_PER_DEG_LAT = 111_195.0  # great circle on the 6371 km sphere


def test_great_circle_matches_a_degree_of_latitude() -> None:
    assert rules.great_circle_m(52.0, 13.0, 53.0, 13.0) == pytest.approx(M_PER_DEG_LAT, rel=1e-3)
    assert rules.great_circle_m(52.0, 13.0, 52.0, 13.0) == 0.0


def test_estimate_is_road_distance_over_smoothed_speed() -> None:
    found = rules.estimate(52.0, 13.0, 52.01, 13.0, 8.0, MODEL)
    road = 0.01 * M_PER_DEG_LAT * 1.3
    assert found.distance_m == pytest.approx(road, rel=1e-3)
    assert found.eta_s == pytest.approx(road / 8.0, rel=1e-3)


def test_circuity_follows_the_heading_on_a_grid() -> None:
    # The stop is due north (bearing 0).
    assert rules.bearing_deg(52.0, 13.0, 52.1, 13.0) == pytest.approx(0.0, abs=1e-6)
    assert rules.bearing_deg(52.0, 13.0, 52.0, 13.1) == pytest.approx(90.0, abs=0.1)
    assert rules.circuity(52.0, 13.0, 52.1, 13.0, 0.0, MODEL) == pytest.approx(1.0)
    assert rules.circuity(52.0, 13.0, 52.1, 13.0, 45.0, MODEL) == pytest.approx(math.sqrt(2))
    assert rules.circuity(52.0, 13.0, 52.1, 13.0, 315.0, MODEL) == pytest.approx(math.sqrt(2))
    assert rules.circuity(52.0, 13.0, 52.1, 13.0, 90.0, MODEL) == pytest.approx(1.0)  # L-turn
    assert rules.circuity(52.0, 13.0, 52.1, 13.0, 180.0, MODEL) == 1.3  # a turn-around ahead
    assert rules.circuity(52.0, 13.0, 52.1, 13.0, None, MODEL) == 1.3
    heading_on = rules.estimate(52.0, 13.0, 52.01, 13.0, 10.0, MODEL, heading=0.0)
    assert heading_on.distance_m == pytest.approx(0.01 * M_PER_DEG_LAT, rel=1e-3)


def test_arrival_is_the_geofence_not_the_stop() -> None:
    fenced = EtaModel(road_factor=1.3, default_speed_mps=10.0, arrival_m=150.0)
    found = rules.estimate(52.0, 13.0, 52.01, 13.0, 10.0, fenced)
    assert found.distance_m == pytest.approx(0.01 * M_PER_DEG_LAT * 1.3 - 150, rel=1e-3)
    assert rules.estimate(52.0, 13.0, 52.0001, 13.0, 10.0, fenced).eta_s == 0.0
    assert EtaModel.of(1.3, 36.0, 10.0, 150.0) == EtaModel(
        road_factor=1.3, default_speed_mps=10.0, near_s=600.0, arrival_m=150.0
    )


def test_estimate_without_a_speed_uses_the_default_and_a_stop_never_means_never() -> None:
    unknown = rules.estimate(52.0, 13.0, 52.01, 13.0, None, MODEL)
    assert unknown.eta_s == pytest.approx(unknown.distance_m / 10.0)
    waiting = rules.estimate(52.0, 13.0, 52.01, 13.0, 0.0, MODEL)  # stopped at a light
    assert waiting.eta_s == pytest.approx(waiting.distance_m / 4.0)  # the floor: 0.4 x 10


def test_speed_is_pinged_or_measured_and_smoothed_by_time() -> None:
    assert rules.observed_speed(7.5, 100.0, 10.0) == 7.5
    assert rules.observed_speed(None, 100.0, 10.0) == 10.0
    assert rules.observed_speed(None, 100.0, 0.0) is None
    # The first ping blends into the default speed, as any other would.
    assert rules.smoothed_speed(None, 12.0, 0.0, MODEL) == 10.0
    assert rules.smoothed_speed(None, 12.0, 60.0, MODEL) == pytest.approx(12.0 - 2.0 * math.exp(-1))
    assert rules.smoothed_speed(10.0, None, 5.0, MODEL) == 10.0
    one_step = rules.smoothed_speed(10.0, 0.0, 60.0, MODEL)
    assert one_step == pytest.approx(10.0 * math.exp(-1))
    # Twelve 5 s pings weigh as much as one 60 s ping.
    speed: float | None = 10.0
    for _ in range(12):
        speed = rules.smoothed_speed(speed, 0.0, 5.0, MODEL)
    assert speed == pytest.approx(one_step)


def test_minutes_shown_round_up_and_change_triggers_telling() -> None:
    assert Estimate(61.0, 500.0).minutes == 2
    assert Estimate(5.0, 40.0).minutes == 1
    assert Estimate(0.0, 0.0).minutes == 0
    assert rules.worth_telling(None, Estimate(61.0, 500.0))
    assert not rules.worth_telling(2, Estimate(90.0, 700.0))
    assert rules.worth_telling(2, Estimate(59.0, 450.0))
    assert rules.crew_is_near(Estimate(600.0, 1.0), MODEL)
    assert not rules.crew_is_near(Estimate(601.0, 1.0), MODEL)


def _org() -> OrgState:
    fleet = FleetColumns(
        driver_ids=["d1"],
        lat=np.array([0.0]),
        lon=np.array([0.0]),
        eligible=np.array([True]),
        skills=np.array([1], dtype=np.int64),
        rating=np.array([3.0]),
        jobs_today=np.zeros(1, dtype=np.int64),
        idle_since=np.zeros(1),
        truck_ids=[],
        truck_capacity=np.zeros(0),
        truck_active=np.zeros(0, dtype=bool),
    )
    return OrgState(
        org_id="o1",
        name="Org",
        verified=True,
        rating=0.0,
        area=prep(Point(13.0, 52.0).buffer(1)),
        pricing=Pricing(10_000, 100, 10_000, "EUR"),
        fleet=fleet,
        driver_row={"d1": 0},
        live=LiveColumns.empty(1),
    )


def _ping(lat: float, ts: float, speed: float | None = 10.0) -> dict[str, object]:
    return {
        "org_id": "o1",
        "driver_id": "d1",
        "lat": lat,
        "lon": 13.0,
        "heading": 0.0,
        "speed": speed,
        "ts": ts,
    }


def test_shard_tells_the_eta_once_per_minute_and_near_once() -> None:
    orgs = {"o1": _org()}
    set_job(
        orgs["o1"],
        "d1",
        {
            "booking_id": "b1",
            "status": "en_route",
            "pickup_lat": 52.1,
            "pickup_lon": 13.0,
            "dropoff_lat": 52.2,
            "dropoff_lon": 13.0,
        },
    )
    # 0.1 deg = 11.1 km straight ahead: 18.5 min at 10 m/s.
    first = apply_pings(orgs, [_ping(52.0, 1000.0)], 150.0, MODEL)
    assert [e["type"] for e in first] == ["job.eta"]
    data = first[0]["data"]
    assert set(data) == {"booking_id", "driver_id", "eta_s", "distance_m", "stop"}
    assert (data["booking_id"], data["driver_id"], data["stop"]) == ("b1", "d1", "pickup")
    # Heading north, straight at the stop: no detour left to drive.
    assert data["eta_s"] == pytest.approx(0.1 * M_PER_DEG_LAT / 10, rel=1e-3)
    assert first[0]["near"] is False
    # A second later, ten metres on: the same minute, nothing to tell.
    assert apply_pings(orgs, [_ping(52.00009, 1001.0)], 150.0, MODEL) == []
    told: list[dict[str, object]] = []
    lat, ts = 52.00009, 1001.0
    while lat < 52.1:  # drive on at 10 m/s, a ping every 10 s
        lat, ts = lat + 100 / M_PER_DEG_LAT, ts + 10
        told += apply_pings(orgs, [_ping(lat, ts)], 150.0, MODEL)
    etas = [e for e in told if e["type"] == "job.eta"]
    minutes = [math.ceil(float(e["data"]["eta_s"]) / 60) for e in etas]  # type: ignore[index]
    assert minutes == sorted(minutes, reverse=True) and len(set(minutes)) == len(minutes)
    assert [e["near"] for e in etas].count(True) == 1
    near = next(e for e in etas if e["near"])
    assert float(near["data"]["eta_s"]) <= 600  # type: ignore[index]
    assert [e["type"] for e in told].count("driver.arrived") == 1
    assert told[-1]["type"] == "driver.arrived"  # nothing about the pickup after arrival


def test_no_eta_without_a_model_or_a_stop_ahead() -> None:
    orgs = {"o1": _org()}
    job = {
        "booking_id": "b1",
        "status": "loading",
        "pickup_lat": 52.1,
        "pickup_lon": 13.0,
        "dropoff_lat": 52.2,
        "dropoff_lon": 13.0,
    }
    set_job(orgs["o1"], "d1", job)
    assert apply_pings(orgs, [_ping(52.0, 1000.0)], 150.0, MODEL) == []
    set_job(orgs["o1"], "d1", {**job, "status": "in_transit"})
    assert apply_pings(orgs, [_ping(52.0, 1001.0)], 150.0) == []
    dropoff = apply_pings(orgs, [_ping(52.0, 1002.0)], 150.0, MODEL)
    assert [e["data"]["stop"] for e in dropoff] == ["dropoff"]  # type: ignore[index]
    assert dropoff[0]["near"] is False  # "about N minutes away" is about the pickup only
