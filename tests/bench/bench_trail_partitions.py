"""Trail partitioning benchmark (docs/scaling.md): one day's trail query and retention, on a
breadcrumb table of a few million rows, before (migration 0010) and after (0011) partitioning.

Measures in one run: the trail query of one driver for one day (the query of
persistence/repositories/positions.py, as a dispatcher under RLS; warm cache, median and p95), retiring
one day of rows (DELETE on the plain table vs dropping its partition), the migration's move of
every row, and the maintenance job (create a day ahead; create a day whose pings wait in the
default partition). Writes bench-results/trail_partitions.json.

Run: uv run --frozen python -m tests.bench.bench_trail_partitions   (own database
movehub_bench_trail, dropped at the end). Options: --drivers 100 --days 30 --per-day 1000
"""

from __future__ import annotations

import os

os.environ.setdefault("MOVEHUB_BENCH_DB", "movehub_bench_trail")
_DB = os.environ["MOVEHUB_BENCH_DB"]
os.environ.update(
    {
        "MOVEHUB_DATABASE_URL": f"postgresql+asyncpg://movehub_app:movehub_app@127.0.0.1:5432/{_DB}",
        "MOVEHUB_OWNER_DATABASE_URL": f"postgresql+asyncpg://movehub_owner:movehub_owner@127.0.0.1:5432/{_DB}",
        "MOVEHUB_LOG_LEVEL": "WARNING",
    }
)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import datetime as dt  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import psycopg  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from persistence.bootstrap import drop_database, migrate, recreate_database  # noqa: E402
from persistence.config import get_settings  # noqa: E402
from persistence.positions_partitions import maintain_position_partitions  # noqa: E402
from persistence.repositories.positions import DAY_BREADCRUMBS  # noqa: E402
from persistence.session import dispose_engine  # noqa: E402

ORG = (
    "INSERT INTO organizations (id, name, code, service_area, base_location, "
    "hourly_rate_cents, per_km_cents, minimum_charge_cents) VALUES (%s, 'Bench Movers', "
    "'BENCHTRAIL', 'MULTIPOLYGON(((13 52, 14 52, 14 53, 13 53, 13 52)))', "
    "'POINT(13.4 52.5)', 4500, 150, 15000)"
)
DRIVERS = (
    "INSERT INTO drivers (id, org_id, full_name, home_base) SELECT gen_random_uuid(), "
    "%s, 'Bench driver ' || n, 'POINT(13.4 52.5)' FROM generate_series(1, %s) AS n"
)
# Each driver's day: per_day points evenly spread, wandering around Berlin.
CRUMBS = """
INSERT INTO driver_breadcrumbs (driver_id, org_id, recorded_at, location, heading, speed, accuracy)
SELECT d.id, d.org_id, %(day)s::timestamptz + make_interval(secs => i * 86400.0 / %(per_day)s),
       ST_SetSRID(ST_MakePoint(13.3 + random() * 0.2, 52.4 + random() * 0.2), 4326)::geography,
       random() * 360, random() * 20, 5
FROM drivers d, generate_series(0, %(per_day)s - 1) AS i
"""
QUERY = (
    DAY_BREADCRUMBS.text.replace(":driver", "%(driver)s")
    .replace(":start", "%(start)s")
    .replace(":end", "%(end)s")
)


def _url(kind: str) -> str:
    settings = get_settings()
    url = make_url(getattr(settings, kind)).set(database=_DB)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _admin() -> psycopg.Connection:
    url = make_url(get_settings().admin_database_url).set(database=_DB)
    return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)


def _timed(action: Callable[[], object]) -> float:
    began = time.perf_counter()
    action()
    return (time.perf_counter() - began) * 1000


def fill(drivers: int, days: int, per_day: int, today: dt.date) -> tuple[uuid.UUID, list[Any]]:
    org = uuid.uuid4()
    with _admin() as conn:  # the superuser writes past row-level security
        conn.execute(ORG, (org,))
        conn.execute(DRIVERS, (org, drivers))
        for n in range(days):
            day = dt.datetime.combine(today - dt.timedelta(days=n), dt.time(), dt.UTC)
            conn.execute(CRUMBS, {"day": day, "per_day": per_day})
            print(f"  filled {day:%Y-%m-%d}: {(n + 1) * drivers * per_day:,} rows", flush=True)
        conn.execute("VACUUM ANALYZE driver_breadcrumbs")
        ids = [row[0] for row in conn.execute("SELECT id FROM drivers ORDER BY id")]
    return org, ids


def trail_query_ms(org: uuid.UUID, drivers: list[Any], day: dt.date, runs: int) -> dict[str, Any]:
    """Median/p95 of the trail query for one day, as a dispatcher of the org (RLS applies)."""
    start = dt.datetime.combine(day, dt.time(), dt.UTC)
    times, rows = [], 0
    with psycopg.connect(_url("database_url")) as conn:
        conn.execute(
            "SELECT set_config('app.role', 'dispatcher', false), set_config('app.org_id', %s, false)",
            (str(org),),
        )
        for n in range(runs):
            params = {
                "driver": drivers[n % len(drivers)],
                "start": start,
                "end": start + dt.timedelta(days=1),
            }
            began = time.perf_counter()
            rows = len(conn.execute(QUERY, params).fetchall())
            times.append((time.perf_counter() - began) * 1000)
        plan = conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT TEXT) " + QUERY, params).fetchall()
    times.sort()
    return {
        "median_ms": round(statistics.median(times), 3),
        "p95_ms": round(times[int(len(times) * 0.95) - 1], 3),
        "rows": rows,
        "plan": [line[0] for line in plan],
    }


def retire_day_ms(day: dt.date, partitioned: bool) -> float:
    """Retiring one day's rows: DELETE on the plain table, dropping the day's partition."""
    lo = dt.datetime.combine(day, dt.time(), dt.UTC)
    with psycopg.connect(_url("owner_database_url"), autocommit=True) as conn:
        if partitioned:
            return _timed(lambda: conn.execute("SELECT breadcrumb_partition_drop(%s)", (day,)))
        conn.execute("ALTER TABLE driver_breadcrumbs NO FORCE ROW LEVEL SECURITY")
        spent = _timed(
            lambda: conn.execute(
                "DELETE FROM driver_breadcrumbs WHERE recorded_at >= %s AND recorded_at < %s",
                (lo, lo + dt.timedelta(days=1)),
            )
        )
        conn.execute("ALTER TABLE driver_breadcrumbs FORCE ROW LEVEL SECURITY")
        return spent


def create_with_waiting_rows_ms(day: dt.date, drivers: int, per_day: int) -> float:
    """A day whose pings arrived before its partition: they sit in the default, then move."""
    with _admin() as conn:
        conn.execute(CRUMBS, {"day": dt.datetime.combine(day, dt.time(), dt.UTC), "per_day": per_day})
    with psycopg.connect(_url("owner_database_url"), autocommit=True) as conn:
        return _timed(lambda: conn.execute("SELECT breadcrumb_partition_create(%s)", (day,)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drivers", type=int, default=100)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--per-day", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    today = dt.datetime.now(dt.UTC).date()
    query_day = today - dt.timedelta(days=args.days // 2)
    total = args.drivers * args.days * args.per_day
    print(
        f"scratch database {_DB}: {total:,} breadcrumbs "
        f"({args.drivers} drivers x {args.days} days x {args.per_day}/day)",
        flush=True,
    )
    recreate_database(_DB)
    result: dict[str, Any] = {
        "rows": total,
        "drivers": args.drivers,
        "days": args.days,
        "per_day": args.per_day,
        "runs": args.runs,
    }
    try:
        migrate("0010")
        began = time.perf_counter()
        org, drivers = fill(args.drivers, args.days, args.per_day, today)
        result["fill_s"] = round(time.perf_counter() - began, 1)
        result["before"] = trail_query_ms(org, drivers, query_day, args.runs)
        print(f"  before: trail query median {result['before']['median_ms']} ms", flush=True)
        result["before"]["retire_day_ms"] = round(
            retire_day_ms(today - dt.timedelta(days=args.days - 1), partitioned=False), 1
        )
        began = time.perf_counter()
        migrate("head")
        result["migration_s"] = round(time.perf_counter() - began, 1)
        with _admin() as conn:
            conn.execute("ANALYZE driver_breadcrumbs")
        result["after"] = trail_query_ms(org, drivers, query_day, args.runs)
        print(f"  after: trail query median {result['after']['median_ms']} ms", flush=True)
        result["after"]["retire_day_ms"] = round(
            retire_day_ms(today - dt.timedelta(days=args.days - 2), partitioned=True), 1
        )
        job_began = time.perf_counter()
        report = asyncio.run(_job(today + dt.timedelta(days=1)))
        result["job_create_one_day_ms"] = round((time.perf_counter() - job_began) * 1000, 1)
        result["job_created"] = [str(day) for day in report]
        result["create_with_waiting_rows_ms"] = round(
            create_with_waiting_rows_ms(today + dt.timedelta(days=20), args.drivers, args.per_day), 1
        )
    finally:
        drop_database(_DB)
    _summary(result)


async def _job(now_day: dt.date) -> list[dt.date]:
    try:
        now = dt.datetime.combine(now_day, dt.time(1), dt.UTC)
        return (await maintain_position_partitions(now)).created
    finally:
        await dispose_engine()


def _summary(result: dict[str, Any]) -> None:
    out = Path("bench-results")
    out.mkdir(exist_ok=True)
    (out / "trail_partitions.json").write_text(json.dumps(result, indent=2))
    before, after = result["before"], result["after"]
    print(
        f"\n{result['rows']:,} breadcrumbs; fill {result['fill_s']} s, "
        f"migration 0011 (move every row) {result['migration_s']} s"
    )
    print(f"trail query, one driver one day ({after['rows']} points), median / p95:")
    print(f"  plain table   {before['median_ms']:8.3f} / {before['p95_ms']:8.3f} ms")
    print(f"  partitioned   {after['median_ms']:8.3f} / {after['p95_ms']:8.3f} ms")
    print(f"retire one day: DELETE {before['retire_day_ms']} ms, drop partition {after['retire_day_ms']} ms")
    print(
        f"job, one day ahead: {result['job_create_one_day_ms']} ms "
        f"(created {result['job_created']}); a day with its "
        f"{result['drivers'] * result['per_day']:,} pings waiting in the default: "
        f"{result['create_with_waiting_rows_ms']} ms"
    )
    print(f"plans: see {out / 'trail_partitions.json'}")


if __name__ == "__main__":
    main()
