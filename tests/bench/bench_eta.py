"""ETA accuracy against the simulator's actual arrivals (issue 15).

Simulated drivers (gateway/simulator/motion.py: street-grid routes, 8-14 m/s cruise, slowing
for corners) drive from a random point of a Berlin-sized service area to a random stop; their
pings go through the fleet shard's own code (actors/live.apply_pings with the settings' ETA
model), and the ETA the shard holds when the crew is first within each distance of the stop
is compared with the time it actually took from there to enter the geofence. Simulated time,
no sockets: the numbers depend only on the seed.

Reports, per straight-line distance to the stop: mean error (bias; + = predicted later than
actual), mean absolute error, p90 absolute error and the mean absolute error relative to the
actual remaining time; the same for the naive model (straight line at the default speed) as
a baseline. Writes bench-results/eta.json.

Run: uv run --frozen python -m tests.bench.bench_eta   Options: --drivers 200 --seed 7
     --ping-s 2 (the driver app's interval)
"""

from __future__ import annotations

import argparse
import json
import random
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from shapely.geometry import Point
from shapely.prepared import prep

from actors.fleet_state import LiveColumns, OrgState
from actors.live import apply_pings, set_job
from dispatch.assignment.scoring import FleetColumns
from dispatch.pricing import Pricing
from dispatch.tracking import rules
from gateway.simulator.motion import Area, Motion
from persistence.config import get_settings

DISTANCES_M = (8000, 5000, 3000, 2000, 1000, 500)
MAX_S = 4 * 3600
OUT = Path("bench-results/eta.json")


def one_driver_org() -> OrgState:
    fleet = FleetColumns(
        driver_ids=["d"],
        lat=np.zeros(1),
        lon=np.zeros(1),
        eligible=np.ones(1, dtype=bool),
        skills=np.ones(1, dtype=np.int64),
        rating=np.full(1, 3.0),
        jobs_today=np.zeros(1, dtype=np.int64),
        idle_since=np.zeros(1),
        truck_ids=[],
        truck_capacity=np.zeros(0),
        truck_active=np.zeros(0, dtype=bool),
    )
    return OrgState(
        org_id="o",
        name="bench",
        verified=True,
        rating=0.0,
        area=prep(Point(13.4, 52.52).buffer(1)),
        pricing=Pricing(0, 0, 0, "EUR"),
        fleet=fleet,
        driver_row={"d": 0},
        live=LiveColumns.empty(1),
    )


def drive(
    area: Area, rng: random.Random, model: rules.EtaModel, geofence_m: float, ping_s: float
) -> list[dict[str, float]] | None:
    """One drive to a stop: for each distance mark passed, the shard's ETA there, the naive
    ETA and the actual time left until the geofence."""
    motion = Motion(area, area.random_point(rng), rng)
    goal = area.random_point(rng)
    stop_lon, stop_lat = area.to_lonlat(*goal)
    motion.drive_to(goal)
    orgs = {"o": one_driver_org()}
    set_job(
        orgs["o"],
        "d",
        {
            "booking_id": "b",
            "status": "en_route",
            "pickup_lat": stop_lat,
            "pickup_lon": stop_lon,
            "dropoff_lat": stop_lat,
            "dropoff_lon": stop_lon,
        },
    )
    marks: list[dict[str, float]] = []
    start_lat, start_lon = area.to_lonlat(motion.x, motion.y)[::-1]
    # Only the marks the drive crosses (one that starts 3 km out says nothing about 8 km).
    pending = [d for d in DISTANCES_M if d < rules.great_circle_m(start_lat, start_lon, stop_lat, stop_lon)]
    t = 0.0
    while t < MAX_S:
        motion.advance(ping_s)
        t += ping_s
        frame = motion.ping()
        ping = {
            "org_id": "o",
            "driver_id": "d",
            "lat": frame["lat"],
            "lon": frame["lon"],
            "heading": frame["heading"],
            "speed": frame["speed"],
            "ts": t,
        }
        events = apply_pings(orgs, [ping], geofence_m, model)
        if any(e["type"] == "driver.arrived" for e in events):
            return [{**m, "actual_s": t - m["t"]} for m in marks]
        job = orgs["o"].live.job[0] or {}
        straight = rules.great_circle_m(frame["lat"], frame["lon"], stop_lat, stop_lon)
        while pending and straight <= pending[0] and job.get("eta_s") is not None:
            naive = rules.estimate(
                frame["lat"],
                frame["lon"],
                stop_lat,
                stop_lon,
                None,
                rules.EtaModel(road_factor=1.0, default_speed_mps=model.default_speed_mps),
            )
            plain = rules.estimate(
                frame["lat"], frame["lon"], stop_lat, stop_lon, job["eta_speed"], model
            )  # heading ignored
            marks.append(
                {
                    "mark_m": pending.pop(0),
                    "t": t,
                    "eta_s": float(job["eta_s"]),
                    "plain_s": plain.eta_s,
                    "naive_s": naive.eta_s,
                }
            )
    return None


def summary(errors: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    return {
        "bias_s": round(float(errors.mean()), 1),
        "mae_s": round(float(np.abs(errors).mean()), 1),
        "p90_abs_s": round(float(np.percentile(np.abs(errors), 90)), 1),
        "mae_pct": round(float((np.abs(errors) / np.maximum(actual, 1)).mean() * 100), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--drivers", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--ping-s", type=float, default=2.0)
    options = parser.parse_args()
    settings = get_settings()
    model = rules.EtaModel.of(
        settings.eta_road_factor,
        settings.eta_default_speed_kmh,
        settings.eta_notify_minutes,
        settings.geofence_radius_m,
    )
    rng = random.Random(options.seed)
    # A Berlin-sized service area (about 28 x 22 km).
    area = Area(uuid.uuid4(), "BENCH", Point(13.4, 52.52).buffer(0.2).envelope)
    started = time.perf_counter()
    marks: list[dict[str, float]] = []
    arrived = 0
    for i in range(options.drivers):
        found = drive(area, rng, model, settings.geofence_radius_m, options.ping_s)
        if found is not None:
            arrived += 1
            marks += found
        if (i + 1) % 50 == 0:
            print(f"  {i + 1}/{options.drivers} drives, {len(marks)} ETA samples", flush=True)
    rows: dict[str, Any] = {}
    print(
        f"\nETA error vs actual arrival ({arrived} drives reached the stop; road factor "
        f"{model.road_factor}, default {settings.eta_default_speed_kmh} km/h, ping every "
        f"{options.ping_s} s)"
    )
    print(
        "model = heading-aware circuity (the shard's); road factor = the same with the fixed "
        "factor only; naive = straight line at the default speed"
    )
    print(
        f"{'within':>8} {'n':>5} {'actual':>7} | model {'bias':>5} {'MAE':>5} {'p90':>5} "
        f"{'MAE%':>6} | road factor {'bias':>5} {'MAE':>5} {'MAE%':>6} | "
        f"naive {'bias':>5} {'MAE':>5} {'MAE%':>6}"
    )
    for mark in DISTANCES_M:
        chosen = [m for m in marks if m["mark_m"] == mark]
        if not chosen:
            continue
        actual = np.array([m["actual_s"] for m in chosen])
        ours = summary(np.array([m["eta_s"] for m in chosen]) - actual, actual)
        plain = summary(np.array([m["plain_s"] for m in chosen]) - actual, actual)
        naive = summary(np.array([m["naive_s"] for m in chosen]) - actual, actual)
        rows[str(mark)] = {
            "n": len(chosen),
            "actual_mean_s": round(float(actual.mean()), 1),
            "model": ours,
            "road_factor_only": plain,
            "naive": naive,
        }
        print(
            f"{mark:>7}m {len(chosen):>5} {actual.mean():>6.0f}s |       "
            f"{ours['bias_s']:>4.0f}s {ours['mae_s']:>4.0f}s {ours['p90_abs_s']:>4.0f}s "
            f"{ours['mae_pct']:>5.1f}% |             {plain['bias_s']:>4.0f}s "
            f"{plain['mae_s']:>4.0f}s {plain['mae_pct']:>5.1f}% |       "
            f"{naive['bias_s']:>4.0f}s {naive['mae_s']:>4.0f}s {naive['mae_pct']:>5.1f}%"
        )
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(
        json.dumps(
            {
                "drivers": options.drivers,
                "arrived": arrived,
                "seed": options.seed,
                "ping_s": options.ping_s,
                "road_factor": model.road_factor,
                "default_speed_kmh": settings.eta_default_speed_kmh,
                "by_distance_m": rows,
            },
            indent=2,
        )
    )
    print(f"\n{len(marks)} samples in {time.perf_counter() - started:.1f} s; wrote {OUT}")


if __name__ == "__main__":
    main()
