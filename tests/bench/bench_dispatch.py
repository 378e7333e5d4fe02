"""Dispatch benchmark: a synthetic city (dense core, suburbs), 10,000 live drivers in 200+
organizations. Measures, in one run: auto-assign scoring through Ray, the same question by a
PostGIS KNN query and by a plain Python loop, offers fan-out, a 1,000 x 2,000 day plan,
deadhead of optimal vs greedy at supply 2:1 and 1.2:1, and a chain day (300 moves, 45 drivers,
packer skills) with its gap to the proven optimum and solve time. Writes
bench-results/dispatch.json.

Run: uv run movehub bench dispatch   (about two minutes; uses its own database movehub_bench)
     uv run movehub bench dispatch --chain-day   (the chain day alone: no database, no Ray)
     uv run movehub bench dispatch --scale   (100,000 drivers in 2,000 organizations: assign
         and offers through the shards against the PostGIS KNN query on the same questions, each
         shard's memory and its rebuild time; its own database movehub_bench_scale; writes
         bench-results/dispatch_scale.json; MOVEHUB_FLEET_SHARDS sets the shard count)
"""

from __future__ import annotations

import os
import sys

SCALE = "--scale" in sys.argv[1:]
os.environ.setdefault("MOVEHUB_BENCH_DB", "movehub_bench_scale" if SCALE else "movehub_bench")
_DB = os.environ["MOVEHUB_BENCH_DB"]
os.environ.update(
    {
        "MOVEHUB_DATABASE_URL": f"postgresql+asyncpg://movehub_app:movehub_app@127.0.0.1:5432/{_DB}",
        "MOVEHUB_OWNER_DATABASE_URL": f"postgresql+asyncpg://movehub_owner:movehub_owner@127.0.0.1:5432/{_DB}",
        "MOVEHUB_LOG_LEVEL": "WARNING",
    }
)

import asyncio  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import random  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import psycopg  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from actors.runtime import start_fleet  # noqa: E402
from dispatch.assignment.chaining import chain_plan, plan_jobs  # noqa: E402
from dispatch.assignment.matching import INFEASIBLE_KM, cost_matrix, greedy, optimal  # noqa: E402
from dispatch.assignment.scoring import Busy, FleetColumns, Job, Weights, skill_mask  # noqa: E402
from persistence.bootstrap import migrate, recreate_database  # noqa: E402
from persistence.config import get_settings  # noqa: E402

CENTER = (13.405, 52.52)
ORGS, DRIVERS, TRUCKS_PER_ORG, BUSY_SHARE, QUESTIONS = 200, 10_000, 30, 0.2, 300
if SCALE:  # issue 13's scale point: 100,000 drivers pinging, 2,000 organizations
    ORGS, DRIVERS = 2_000, 100_000
console = Console()
rng = random.Random(42)
TOMORROW = (datetime.now(UTC) + timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)


def city_point(source: random.Random = rng) -> tuple[float, float]:
    """60 % in a dense core, 40 % in a suburban ring."""
    if source.random() < 0.6:
        return CENTER[0] + source.gauss(0, 0.035), CENTER[1] + source.gauss(0, 0.022)
    angle, radius = source.uniform(0, 2 * math.pi), source.uniform(0.08, 0.25)
    return CENTER[0] + radius * math.cos(angle) * 1.6, CENTER[1] + radius * math.sin(angle)


def circle_wkt(lon: float, lat: float, radius: float) -> str:
    ring = [
        (lon + radius * 1.6 * math.cos(a), lat + radius * math.sin(a))
        for a in np.linspace(0, 2 * math.pi, 24)
    ]
    ring[-1] = ring[0]
    return "MULTIPOLYGON(((" + ",".join(f"{x:.6f} {y:.6f}" for x, y in ring) + ")))"


def build_city() -> list[str]:
    """Fresh database with orgs, drivers, trucks, and busy assignments (as superuser: COPY)."""
    settings = get_settings()
    recreate_database(_DB, settings)
    migrate()
    org_ids = [str(uuid.uuid4()) for _ in range(ORGS)]
    admin = psycopg.connect(settings.admin_database_url.rsplit("/", 1)[0] + f"/{_DB}")
    with admin, admin.cursor() as cur:
        with cur.copy(
            "COPY organizations (id, name, code, service_area, base_location, "
            "hourly_rate_cents, per_km_cents, minimum_charge_cents, currency, "
            "verified, rating_avg) FROM STDIN"
        ) as copy:
            for i, org in enumerate(org_ids):
                lon, lat = city_point()
                copy.write_row(
                    (
                        org,
                        f"Bench Movers {i}",
                        f"B{i:05d}",
                        f"SRID=4326;{circle_wkt(lon, lat, rng.uniform(0.15, 0.3))}",
                        f"SRID=4326;POINT({lon} {lat})",
                        rng.randint(3000, 6000),
                        rng.randint(80, 200),
                        10000,
                        "EUR",
                        True,
                        round(rng.uniform(3, 5), 2),
                    )
                )
        drivers: list[tuple[str, str]] = []
        with cur.copy(
            "COPY drivers (id, org_id, full_name, status, skills, home_base, verified, rating_avg) FROM STDIN"
        ) as copy:
            for i in range(DRIVERS):
                driver, org = str(uuid.uuid4()), org_ids[i % ORGS]
                lon, lat = city_point()
                drivers.append((driver, org))
                copy.write_row(
                    (
                        driver,
                        org,
                        f"Driver {i}",
                        "active" if rng.random() > 0.03 else "inactive",
                        "{driver,packer}" if rng.random() < 0.5 else "{driver}",
                        f"SRID=4326;POINT({lon} {lat})",
                        rng.random() > 0.05,
                        round(rng.uniform(3, 5), 2),
                    )
                )
        trucks: dict[str, list[str]] = {o: [] for o in org_ids}
        with cur.copy("COPY trucks (id, org_id, plate, capacity_m3) FROM STDIN") as copy:
            for org in org_ids:
                for t in range(TRUCKS_PER_ORG):
                    truck = str(uuid.uuid4())
                    trucks[org].append(truck)
                    copy.write_row((truck, org, f"T{t}-{org[:6]}", rng.choice([20, 35, 50])))
        customer = str(uuid.uuid4())
        cur.execute(
            "INSERT INTO users (id, role, email) VALUES (%s, 'customer', %s)",
            (customer, f"bench-{customer[:8]}@example.com"),
        )
        busy = rng.sample(drivers, int(DRIVERS * BUSY_SHARE))
        used_trucks: dict[str, int] = {}
        rows_b, rows_a = [], []
        for driver, org in busy:
            booking = str(uuid.uuid4())
            start = TOMORROW + timedelta(hours=rng.randint(0, 8))
            end = start + timedelta(hours=rng.randint(2, 4))
            (lon, lat), (dlon, dlat) = city_point(), city_point()
            truck_no = used_trucks.get(org, 0)  # one busy window per truck: never overlapping
            used_trucks[org] = truck_no + 1
            rows_b.append(
                (
                    booking,
                    org,
                    customer,
                    "a",
                    f"SRID=4326;POINT({lon} {lat})",
                    "b",
                    f"SRID=4326;POINT({dlon} {dlat})",
                    start,
                    end,
                    20,
                    2,
                    5,
                    20000,
                    "EUR",
                    "assigned",
                )
            )
            rows_a.append(
                (
                    org,
                    booking,
                    driver,
                    trucks[org][truck_no % TRUCKS_PER_ORG],
                    f"[{start.isoformat()},{end.isoformat()})",
                )
            )
        with cur.copy(
            "COPY bookings (id, org_id, customer_id, pickup_address, pickup_location, "
            "dropoff_address, dropoff_location, window_start, window_end, volume_m3, "
            "crew_size, distance_km, price_cents, currency, status) FROM STDIN"
        ) as copy:
            for row in rows_b:
                copy.write_row(row)
        with cur.copy(
            'COPY booking_assignments (org_id, booking_id, driver_id, truck_id, "window") FROM STDIN'
        ) as copy:
            for row in rows_a:
                copy.write_row(row)
        cur.execute("ANALYZE")
    admin.close()
    return org_ids


KNN_SQL = """
SELECT d.id FROM drivers d
WHERE d.org_id = %(org)s AND d.status = 'active' AND d.verified AND d.skills @> %(skills)s
  AND NOT EXISTS (SELECT 1 FROM booking_assignments a WHERE a.driver_id = d.id AND a.active
                  AND a."window" && tstzrange(%(start)s, %(end)s))
  AND EXISTS (SELECT 1 FROM trucks t WHERE t.org_id = d.org_id AND t.status = 'active'
              AND t.capacity_m3 >= %(volume)s AND NOT EXISTS (
                SELECT 1 FROM booking_assignments b WHERE b.truck_id = t.id AND b.active
                AND b."window" && tstzrange(%(start)s, %(end)s)))
ORDER BY d.home_base <-> ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography
LIMIT 5
"""
LOOP_DRIVERS_SQL = """
SELECT d.id, d.status, d.verified, d.skills, ST_Y(d.home_base::geometry),
       ST_X(d.home_base::geometry), d.rating_avg::float8
FROM drivers d WHERE d.org_id = %(org)s
"""
LOOP_BUSY_SQL = """
SELECT driver_id, lower("window"), upper("window") FROM booking_assignments
WHERE org_id = %(org)s AND active
"""


def questions(org_ids: list[str]) -> list[tuple[str, dict[str, float | list[str]]]]:
    out = []
    for _ in range(QUESTIONS):
        (lon, lat), (dlon, dlat) = city_point(), city_point()
        start = TOMORROW + timedelta(hours=rng.randint(1, 9))
        out.append(
            (
                rng.choice(org_ids),
                {
                    "pickup_lat": lat,
                    "pickup_lon": lon,
                    "dropoff_lat": dlat,
                    "dropoff_lon": dlon,
                    "start": start.timestamp(),
                    "end": (start + timedelta(hours=3)).timestamp(),
                    "volume_m3": 20.0,
                    "crew_size": 2,
                    "required_skills": ["driver"],
                },
            )
        )
    return out


def haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(a))


def python_loop(cur: psycopg.Cursor, org: str, spec: dict) -> list[str]:  # type: ignore[type-arg]
    """The naive way: load the org's drivers and busy windows, loop over them in Python."""
    cur.execute(LOOP_DRIVERS_SQL, {"org": org})
    drivers = cur.fetchall()
    cur.execute(LOOP_BUSY_SQL, {"org": org})
    busy: dict[str, list[tuple[float, float]]] = {}
    for driver_id, lo, hi in cur.fetchall():
        busy.setdefault(str(driver_id), []).append((lo.timestamp(), hi.timestamp()))
    scored = []
    for driver_id, status, verified, skills, lat, lon, rating in drivers:
        if status != "active" or not verified or "driver" not in skills:
            continue
        if any(s < spec["end"] and e > spec["start"] for s, e in busy.get(str(driver_id), [])):
            continue
        km = haversine(lat, lon, spec["pickup_lat"], spec["pickup_lon"])
        scored.append((km - 5.0 * (rating - 3.0), str(driver_id)))
    return [d for _, d in sorted(scored)[:5]]


def ms(samples: list[float]) -> tuple[float, float]:
    return (
        round(float(np.percentile(samples, 50)) * 1000, 3),
        round(float(np.percentile(samples, 99)) * 1000, 3),
    )


def synthetic_fleet(drivers: int) -> FleetColumns:
    points = [city_point() for _ in range(drivers)]
    return FleetColumns(
        driver_ids=[str(i) for i in range(drivers)],
        lat=np.array([p[1] for p in points]),
        lon=np.array([p[0] for p in points]),
        eligible=np.ones(drivers, bool),
        skills=np.ones(drivers, np.int64),
        rating=np.full(drivers, 4.0),
        jobs_today=np.zeros(drivers, np.int64),
        idle_since=np.zeros(drivers),
        truck_ids=["t"],
        truck_capacity=np.array([50.0]),
        truck_active=np.ones(1, bool),
        driver_busy=Busy(),
        truck_busy=Busy(),
    )


def day_jobs(count: int) -> list[Job]:
    start = TOMORROW.timestamp() + 3600
    return [Job(p[1], p[0], start, start + 3 * 3600, 20.0, 1) for p in (city_point() for _ in range(count))]


def with_trucks(fleet: FleetColumns, trucks: int) -> FleetColumns:
    fleet.truck_ids = [f"t{i}" for i in range(trucks)]
    fleet.truck_capacity = np.full(trucks, 50.0)
    fleet.truck_active = np.ones(trucks, bool)
    return fleet


CHAIN_MOVES, CHAIN_DRIVERS, CHAIN_SEED = 300, 45, 7
PACKER_JOBS, PACKER_DRIVERS = 0.3, 0.5  # shares needing / holding the packer skill


def chained_day(count: int, drivers: int, seed: int) -> tuple[list[Job], FleetColumns]:
    """Moves spread over a day (07:00-18:00 starts, 1-3 h), each ending somewhere else, 30 %
    of them needing a packer; drivers of whom half are packers. Its own seed: the same day
    every run, whatever the rest of the bench drew."""
    day, source = TOMORROW.timestamp(), random.Random(seed)
    plain, packer = skill_mask(["driver"]), skill_mask(["driver", "packer"])
    jobs = []
    for _ in range(count):
        start = day + source.uniform(7, 18) * 3600
        (lon, lat), (to_lon, to_lat) = city_point(source), city_point(source)
        jobs.append(
            Job(
                lat,
                lon,
                start,
                start + source.uniform(1, 3) * 3600,
                20.0,
                packer if source.random() < PACKER_JOBS else plain,
                dropoff_lat=to_lat,
                dropoff_lon=to_lon,
            )
        )
    points = [city_point(source) for _ in range(drivers)]
    fleet = with_trucks(synthetic_fleet(0), drivers)
    fleet.driver_ids = [str(i) for i in range(drivers)]
    fleet.lat, fleet.lon = np.array([p[1] for p in points]), np.array([p[0] for p in points])
    fleet.eligible, fleet.rating = np.ones(drivers, bool), np.full(drivers, 4.0)
    fleet.skills = np.array(
        [packer if source.random() < PACKER_DRIVERS else plain for _ in range(drivers)], dtype=np.int64
    )
    fleet.jobs_today, fleet.idle_since = np.zeros(drivers, np.int64), np.zeros(drivers)
    return jobs, fleet


def chain_figures() -> dict[str, float]:
    """The chain day: the day plan (exact chains), its gap to the proven optimum (the lower
    bound the exact model proves) and its solve time, beside VROOM alone and greedy."""
    jobs, fleet = chained_day(CHAIN_MOVES, CHAIN_DRIVERS, CHAIN_SEED)
    started, cpu = time.perf_counter(), time.process_time()
    day = plan_jobs(fleet, jobs, Weights())
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    proof = day.proof
    bound = proof.bound_km if proof is not None else float("nan")
    feasible = cost_matrix(fleet, jobs, Weights()) < INFEASIBLE_KM
    vroom = chain_plan(fleet, jobs, feasible, Weights())
    # The proof's own gap: the plan's legs summed unrounded (day.deadhead_km rounds each leg).
    gap = (
        100 * proof.gap
        if proof is not None and proof.served == len(day.pairs)
        else (100 * (day.deadhead_km - bound) / bound)
    )
    return {
        "chain_moves": CHAIN_MOVES,
        "chain_drivers": CHAIN_DRIVERS,
        "chain_method": day.method,  # type: ignore[dict-item]
        "chain_plan_s": round(wall, 3),
        "chain_plan_cpu_s": round(cpu, 3),
        "chain_solve_s": round(proof.solve_s, 3) if proof is not None else float("nan"),
        "chain_assigned": len(day.pairs),
        "chain_deadhead_km": day.deadhead_km,
        "chain_optimum_km": bound,
        "chain_served_is_max": bool(proof is not None and proof.served_is_max),  # type: ignore[dict-item]
        "chain_gap_pct": round(gap, 4),
        "chain_vroom_assigned": vroom.served,
        "chain_vroom_deadhead_km": vroom.deadhead_km,
        "chain_greedy_assigned": day.greedy_assigned,
        "chain_greedy_deadhead_km": day.greedy_deadhead_km,
    }


def planning_figures() -> dict[str, float]:
    jobs = day_jobs(1000)
    fleet_2k = with_trucks(synthetic_fleet(2000), 2000)
    started = time.perf_counter()
    plan = plan_jobs(fleet_2k, jobs, Weights())
    plan_s = time.perf_counter() - started
    figures = {"plan_s": round(plan_s, 3), "plan_assigned": len(plan.pairs)}
    figures.update(chain_figures())
    for label, fleet in (("2to1", fleet_2k), ("1.2to1", synthetic_fleet(1200))):
        matrix = cost_matrix(fleet, jobs, Weights())
        figures[f"deadhead_optimal_km_{label}"] = optimal(matrix).deadhead_km
        figures[f"deadhead_greedy_km_{label}"] = greedy(matrix).deadhead_km
    return figures


async def measure(org_ids: list[str]) -> dict[str, float]:
    settings = get_settings()
    started = time.perf_counter()
    fleet = await start_fleet(settings)  # Ray started, every shard's state built
    fleet_start_s = time.perf_counter() - started
    asked = questions(org_ids)
    for org, spec in asked[:20]:  # warm up every code path once
        await fleet.rank(uuid.UUID(org), spec)
    ray_s, knn_s, loop_s, offers_s = [], [], [], []
    for org, spec in asked:
        started = time.perf_counter()
        await fleet.rank(uuid.UUID(org), spec)
        ray_s.append(time.perf_counter() - started)
    db = psycopg.connect(settings.admin_database_url.rsplit("/", 1)[0] + f"/{_DB}", autocommit=True)
    with db, db.cursor() as cur:
        for org, spec in asked:
            params = {
                "org": org,
                "skills": ["driver"],
                "lon": spec["pickup_lon"],
                "lat": spec["pickup_lat"],
                "volume": spec["volume_m3"],
                "start": datetime.fromtimestamp(float(spec["start"]), UTC),  # type: ignore[arg-type]
                "end": datetime.fromtimestamp(float(spec["end"]), UTC),
            }  # type: ignore[arg-type]
            started = time.perf_counter()
            cur.execute(KNN_SQL, params)
            cur.fetchall()
            knn_s.append(time.perf_counter() - started)
            started = time.perf_counter()
            python_loop(cur, org, spec)
            loop_s.append(time.perf_counter() - started)
    for _, spec in asked[:100]:
        started = time.perf_counter()
        await fleet.offers(spec)
        offers_s.append(time.perf_counter() - started)
    (a50, a99), (k50, k99), (l50, l99), (o50, o99) = ms(ray_s), ms(knn_s), ms(loop_s), ms(offers_s)
    shards = {"fleet_start_s": round(fleet_start_s, 2), **await shard_figures(fleet)} if SCALE else {}
    return {
        **shards,
        "assign_p50_ms": a50,
        "assign_p99_ms": a99,
        "knn_sql_p50_ms": k50,
        "knn_sql_p99_ms": k99,
        "python_loop_p50_ms": l50,
        "python_loop_p99_ms": l99,
        "offers_p50_ms": o50,
        "offers_p99_ms": o99,
    }


def _memory(shard: object) -> dict[str, int]:
    """Run inside a shard (`__ray_call__`): its resident memory and its state pickled."""
    import pickle

    status = Path("/proc/self/status").read_text()
    rss_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
    return {"rss_mb": rss_kb // 1024, "state_mb": len(pickle.dumps(shard.orgs)) // (1024 * 1024)}  # type: ignore[attr-defined]


async def shard_figures(fleet: Any) -> dict[str, Any]:
    """Each shard's organizations, drivers and memory; the time one shard takes to rebuild
    its state from PostgreSQL (in this process, as its actor does on start), and to come
    back after its process is killed (Ray restarts it; it rebuilds before answering)."""
    from actors.fleet_state import load_orgs

    pings = await asyncio.gather(*(s.ping.remote() for s in fleet.shards))
    memory = await asyncio.gather(*(s.__ray_call__.remote(_memory) for s in fleet.shards))
    owner = fleet.table.owner
    first = sorted(fleet.table.handles)[0]
    owned = {slot for slot, shard in enumerate(owner) if shard == first}
    started = time.perf_counter()
    rebuilt = await load_orgs(owned, len(owner))
    load_s = time.perf_counter() - started
    shard = fleet.table.handles[first]
    loaded = await shard.loaded_since.remote()
    import ray

    started = time.perf_counter()
    ray.kill(shard, no_restart=False)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            if await shard.loaded_since.remote() != loaded:
                break
        except ray.exceptions.RayActorError:
            pass
        await asyncio.sleep(0.05)
    restart_s = time.perf_counter() - started
    return {
        "shard_orgs": [p["orgs"] for p in pings],
        "shard_drivers": [p["drivers"] for p in pings],
        "shard_rss_mb": [m["rss_mb"] for m in memory],
        "shard_state_mb": [m["state_mb"] for m in memory],
        "rebuild_orgs": len(rebuilt),
        "rebuild_drivers": sum(len(o.fleet.driver_ids) for o in rebuilt.values()),
        "rebuild_s": round(load_s, 3),
        "restart_rebuild_s": round(restart_s, 3),
    }


def scale_main() -> None:
    """`movehub bench dispatch --scale`: 100,000 drivers, 2,000 organizations."""
    load_before = os.getloadavg()
    with console.status(f"building the city: {ORGS} orgs, {DRIVERS} drivers ..."):
        started = time.perf_counter()
        org_ids = build_city()
    build_s = time.perf_counter() - started
    console.print(f"city built in {build_s:.1f} s")
    started = time.perf_counter()
    with console.status(f"{QUESTIONS} questions through Ray and PostGIS KNN; shards' memory ..."):
        figures = asyncio.run(measure(org_ids))
    figures.update(
        {
            "drivers": DRIVERS,
            "orgs": ORGS,
            "shards": get_settings().fleet_shards,
            "questions": QUESTIONS,
            "build_s": round(build_s, 1),
            "measure_s": round(time.perf_counter() - started, 1),
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
            "cpus": os.cpu_count(),
        }
    )
    table = Table(title=f"dispatch benchmark at scale ({os.cpu_count()}-core machine, shared)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in figures.items():
        table.add_row(key, f"{value}")
    console.print(table)
    out = Path("bench-results/dispatch_scale.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=2))
    console.print(f"wrote {out}")


def chain_day_only() -> None:
    """`movehub bench dispatch --chain-day`: the chain day alone (no database, no Ray)."""
    with console.status(f"chain day: {CHAIN_MOVES} moves, {CHAIN_DRIVERS} drivers ..."):
        figures = chain_figures()
    table = Table(title="dispatch benchmark: chain day")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in figures.items():
        table.add_row(key, f"{value}")
    console.print(table)


def main() -> None:
    if "--chain-day" in sys.argv[1:]:
        chain_day_only()
        return
    if SCALE:
        scale_main()
        return
    with console.status(f"building the city: {ORGS} orgs, {DRIVERS} drivers ..."):
        started = time.perf_counter()
        org_ids = build_city()
    console.print(f"city built in {time.perf_counter() - started:.1f} s")
    with console.status(f"{QUESTIONS} questions through Ray, PostGIS KNN and a Python loop..."):
        figures = asyncio.run(measure(org_ids))
    with console.status("day plan 1,000 x 2,000 and deadhead at 2:1 and 1.2:1 ..."):
        figures.update(planning_figures())
    figures["deadhead_optimal_km"] = figures["deadhead_optimal_km_1.2to1"]
    figures["deadhead_greedy_km"] = figures["deadhead_greedy_km_1.2to1"]
    figures.update(
        {"drivers": DRIVERS, "orgs": ORGS, "shards": get_settings().fleet_shards, "questions": QUESTIONS}
    )
    table = Table(title="dispatch benchmark (2-core machine)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in figures.items():
        table.add_row(key, f"{value}")
    saving = 1 - figures["deadhead_optimal_km"] / figures["deadhead_greedy_km"]
    table.add_row("optimal vs greedy deadhead at 1.2:1", f"{saving:.1%} less")
    table.add_row(
        "chain day: jobs served exact / VROOM / greedy",
        f"{figures['chain_assigned']} / {figures['chain_vroom_assigned']} / "
        f"{figures['chain_greedy_assigned']}",
    )
    table.add_row(
        "chain day: gap to the proven optimum, solve time",
        f"{figures['chain_gap_pct']} %, {figures['chain_plan_s']} s",
    )
    table.add_row("Ray p50 / KNN SQL p50", f"{figures['assign_p50_ms'] / figures['knn_sql_p50_ms']:.2f}")
    console.print(table)
    out = Path("bench-results/dispatch.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=2))
    console.print(f"wrote {out}")


if __name__ == "__main__":
    main()
