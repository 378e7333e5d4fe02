"""Analytics benchmark: 1,000,000 bookings and 50,000 invoices across 100 organizations (with
their assignments, arrivals, ratings, tickets, verification submissions and payments), then
p50/p95 of each of the nine analytics endpoints over HTTP (the real app, in process), for one
organization's staff and for a platform admin, over the default range (the last 30 days).
Measured without migration 0015's indexes (--before-samples), with the rollups of migration 0019
hidden (--live-samples: every day read from the rows), then as served (rollups for the closed
days, live rows for today). The rollups are refreshed first (rebuilt when there are none: a few
minutes). Writes bench-results/analytics.json.

Run: uv run movehub bench analytics [--samples N]   (its own database movehub_bench_analytics;
seeding with generate_series takes a few minutes)
"""

from __future__ import annotations

import os

os.environ.setdefault("MOVEHUB_BENCH_DB", "movehub_bench_analytics")
_DB = os.environ["MOVEHUB_BENCH_DB"]
os.environ.update(
    {
        "MOVEHUB_DATABASE_URL": f"postgresql+asyncpg://movehub_app:movehub_app@127.0.0.1:5432/{_DB}",
        "MOVEHUB_OWNER_DATABASE_URL": f"postgresql+asyncpg://movehub_owner:movehub_owner@127.0.0.1:5432/{_DB}",
        "MOVEHUB_LOG_LEVEL": "WARNING",
        "MOVEHUB_RAY_ENABLED": "false",  # analytics never asks the actors
        "MOVEHUB_RATE_LIMIT_ENABLED": "false",  # one client asks thousands of times
    }
)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402
import psycopg  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from dispatch.auth.tokens import issue_access_token  # noqa: E402
from persistence.analytics_rollups import refresh_rollups  # noqa: E402
from persistence.bootstrap import migrate, recreate_database  # noqa: E402
from persistence.config import get_settings  # noqa: E402
from persistence.session import Caller, dispose_engine  # noqa: E402

ORGS, BOOKINGS_PER_ORG, INVOICES_PER_ORG, CREW_PER_ORG = 100, 10_000, 500, 20
# Crews (assignments) and arrivals are written for the last 90 days and ahead only: the
# exclusion constraints make each assignment row slow to insert, and the views read 30 days.
CREW_DAYS = 90
VIEWS = (
    "dashboard",
    "bookings",
    "drivers",
    "trucks",
    "ratings",
    "support",
    "invoices",
    "verification",
    "trends",
)
GOAL_MS = 300.0
console = Console()
indexes = importlib.import_module("persistence.migrations.versions.0015_analytics_indexes")

# Each organization: 400 days of 25 bookings (365 past, 35 ahead), 20 drivers and 20 trucks;
# booking n of a day takes crew n % 20 at 08:00, or at 13:00 for n >= 20 (never overlapping).
SEED = """
INSERT INTO organizations (id, name, code, service_area, base_location, hourly_rate_cents,
  per_km_cents, minimum_charge_cents, currency, timezone, verified)
SELECT gen_random_uuid(), 'Bench Movers ' || o, 'BA' || lpad(o::text, 5, '0'),
  'SRID=4326;MULTIPOLYGON(((13 52,14 52,14 53,13 53,13 52)))', 'SRID=4326;POINT(13.4 52.5)',
  4500, 150, 15000, (ARRAY['EUR','USD'])[1 + o % 2],
  (ARRAY['Europe/Berlin','America/New_York','UTC'])[1 + o % 3], true
FROM generate_series(0, {last_org}) o;

CREATE TEMP TABLE orgs AS
SELECT id, currency, timezone, row_number() OVER (ORDER BY code) - 1 AS n FROM organizations;

INSERT INTO users (role, org_id, email, full_name)
SELECT 'customer', NULL, 'c' || g || '@bench.test', 'Customer ' || g
FROM generate_series(0, 999) g;
INSERT INTO users (role, org_id, email, full_name)
SELECT 'mover_admin', id, 'admin' || n || '@bench.test', 'Admin ' || n FROM orgs
UNION ALL SELECT 'platform_admin', NULL, 'platform@bench.test', 'Platform admin';
CREATE TEMP TABLE customers AS
SELECT id, row_number() OVER (ORDER BY email) - 1 AS n FROM users WHERE role = 'customer';

INSERT INTO drivers (id, org_id, full_name, status, skills, home_base, verified, rating_avg)
SELECT gen_random_uuid(), o.id, 'Driver ' || o.n || '-' || c, 'active', '{{driver}}',
  'SRID=4326;POINT(13.4 52.5)', c % 7 <> 0, 3 + (c % 20) / 10.0
FROM orgs o, generate_series(0, {last_crew}) c;
INSERT INTO trucks (id, org_id, plate, capacity_m3)
SELECT gen_random_uuid(), o.id, 'B' || o.n || '-' || c, 40
FROM orgs o, generate_series(0, {last_crew}) c;
CREATE TEMP TABLE crews AS
SELECT d.org_id, d.id AS driver_id, t.id AS truck_id,
  split_part(d.full_name, '-', 2)::int AS c
FROM drivers d JOIN trucks t ON t.org_id = d.org_id
  AND split_part(t.plate, '-', 2) = split_part(d.full_name, '-', 2);

CREATE TEMP TABLE seeded AS
SELECT gen_random_uuid() AS id, o.id AS org_id, o.currency, g,
  ((date_trunc('day', now() AT TIME ZONE o.timezone) - interval '365 days'
    + (g / 25) * interval '1 day' + CASE WHEN g % 25 < 20 THEN interval '8 hours'
    ELSE interval '13 hours' END) AT TIME ZONE o.timezone) AS window_start,
  (g % 25) % 20 AS crew,
  CASE WHEN g / 25 >= 365 THEN (ARRAY['pending','confirmed','assigned'])[1 + g % 3]
       WHEN (g * 7919 + o.n * 13) % 100 < 78 THEN 'completed'
       WHEN (g * 7919 + o.n * 13) % 100 < 88 THEN 'cancelled'
       WHEN (g * 7919 + o.n * 13) % 100 < 92 THEN 'no_show'
       WHEN (g * 7919 + o.n * 13) % 100 < 93 THEN 'disputed'
       ELSE 'completed' END AS status,
  20000 + (g * 37) % 30000 AS price_cents
FROM orgs o, generate_series(0, {last_booking}) g;

INSERT INTO bookings (id, org_id, customer_id, pickup_address, pickup_location,
  dropoff_address, dropoff_location, window_start, window_end, volume_m3, crew_size,
  distance_km, price_cents, currency, status)
SELECT s.id, s.org_id, c.id, 'Pickup 1', 'SRID=4326;POINT(13.41 52.52)', 'Dropoff 2',
  'SRID=4326;POINT(13.37 52.51)', s.window_start, s.window_start + interval '4 hours', 20, 2,
  5, s.price_cents, s.currency, s.status
FROM seeded s JOIN customers c ON c.n = s.g % 1000;

INSERT INTO booking_assignments (org_id, booking_id, driver_id, truck_id, "window", method)
SELECT s.org_id, s.id, k.driver_id, k.truck_id,
  tstzrange(s.window_start, s.window_start + interval '4 hours'), 'auto'
FROM seeded s JOIN crews k ON k.org_id = s.org_id AND k.c = s.crew
WHERE s.status NOT IN ('pending', 'confirmed', 'cancelled') AND s.g / 25 >= 365 - {crew_days};

INSERT INTO booking_status_history (booking_id, org_id, from_status, to_status, actor_role,
  created_at)
SELECT id, org_id, 'en_route', 'arrived', 'driver',
  window_start + ((g * 31) % 40) * interval '1 minute'
FROM seeded WHERE status IN ('completed', 'disputed') AND g / 25 >= 365 - {crew_days};

INSERT INTO ratings (org_id, booking_id, customer_id, driver_id, overall, driver_rating,
  created_at)
SELECT s.org_id, s.id, c.id, NULL, 1 + (s.g * 13) % 5, 1 + (s.g * 7) % 5,
  s.window_start + interval '1 day'
FROM seeded s JOIN customers c ON c.n = s.g % 1000
WHERE s.status = 'completed' AND s.g % 5 = 0;

INSERT INTO support_tickets (org_id, opened_by, opened_by_role, issue_type, subject,
  description, priority, status, sla_due_at, first_response_at, resolved_at, created_at)
SELECT s.org_id, c.id, 'customer', 'other', 'Bench', 'Bench ticket',
  (ARRAY['low','normal','high','urgent'])[1 + s.g % 4],
  CASE WHEN s.g % 3 = 0 THEN 'open' ELSE 'resolved' END,
  s.window_start + interval '1 day',
  s.window_start + interval '2 hours',
  CASE WHEN s.g % 3 = 0 THEN NULL ELSE s.window_start + ((s.g % 48) * interval '1 hour') END,
  s.window_start
FROM seeded s JOIN customers c ON c.n = s.g % 1000 WHERE s.g % 50 = 1;

INSERT INTO documents (org_id, purpose, storage_key, status)
SELECT o.id, 'verification', 'bench/' || o.n || '/' || k, 'stored'
FROM orgs o, generate_series(0, 4) k;
INSERT INTO verification_submissions (org_id, subject_type, subject_id, kind, document_id,
  expires_on, status, rejection_reason, decided_at, created_at)
SELECT d.org_id, 'organization', d.org_id,
  (ARRAY['business_license','liability_insurance','workers_comp','drivers_license',
         'background_check'])[1 + split_part(d.storage_key, '/', 3)::int], d.id,
  current_date + (split_part(d.storage_key, '/', 3)::int * 20),
  (ARRAY['pending','approved','rejected','approved','under_review'])
    [1 + split_part(d.storage_key, '/', 3)::int],
  CASE WHEN split_part(d.storage_key, '/', 3) = '2' THEN 'unreadable' ELSE '' END,
  now() - interval '3 days', now() - interval '10 days'
FROM documents d WHERE d.storage_key LIKE 'bench/%';

CREATE TEMP TABLE invoiced AS
SELECT gen_random_uuid() AS id, o.id AS org_id, o.n AS org_n, o.currency, i,
  (current_date - 365 + (i * 73) % 400) AS issue_date,
  10000 + (i * 53) % 40000 AS total_cents,
  CASE WHEN current_date - 365 + (i * 73) % 400 > current_date THEN 'draft'
       WHEN i % 10 < 7 THEN 'paid' WHEN i % 10 < 9 THEN 'issued' ELSE 'void' END AS status
FROM orgs o, generate_series(0, {last_invoice}) i;
INSERT INTO invoices (id, org_id, customer_id, number, year, sequence, status, currency,
  subtotal_cents, tax_cents, total_cents, paid_cents, payment_terms_days, issue_date,
  due_date, paid_at, issued_at)
SELECT v.id, v.org_id, c.id,
  CASE WHEN v.status = 'draft' THEN NULL ELSE 'BI-' || v.org_n || '-' || v.i END,
  NULL, NULL, v.status, v.currency, v.total_cents, 0,
  v.total_cents, CASE WHEN v.status = 'paid' THEN v.total_cents ELSE 0 END, 14,
  CASE WHEN v.status = 'draft' THEN NULL ELSE v.issue_date END,
  CASE WHEN v.status = 'draft' THEN NULL ELSE v.issue_date + 14 END,
  CASE WHEN v.status = 'paid' THEN (v.issue_date + (v.i % 20))::timestamptz END,
  CASE WHEN v.status = 'draft' THEN NULL ELSE v.issue_date::timestamptz END
FROM invoiced v JOIN customers c ON c.n = v.i % 1000;
INSERT INTO invoice_payments (invoice_id, org_id, amount_cents, method, reference,
  received_at)
SELECT id, org_id, total_cents, 'card', 'bench-' || i, (issue_date + (i % 20))::timestamptz
FROM invoiced WHERE status = 'paid';
"""


def admin_connection() -> psycopg.Connection:
    url = get_settings().admin_database_url.rsplit("/", 1)[0] + f"/{_DB}"
    return psycopg.connect(url, autocommit=True)


def seed(orgs: int) -> dict[str, int]:
    recreate_database(_DB, get_settings())
    migrate()
    with admin_connection() as db, db.cursor() as cur:
        started = time.perf_counter()
        sql = SEED.format(
            last_org=orgs - 1,
            last_crew=CREW_PER_ORG - 1,
            last_booking=BOOKINGS_PER_ORG - 1,
            last_invoice=INVOICES_PER_ORG - 1,
            crew_days=CREW_DAYS,
        )
        for step in sql.strip().split("\n\n"):  # temp tables live on this connection
            began = time.perf_counter()
            cur.execute(step)
            console.print(f"  {' '.join(step.split()[:4]):<40} {time.perf_counter() - began:6.1f} s")
        console.print(f"seeded in {time.perf_counter() - started:.0f} s; vacuum analyze ...")
        cur.execute("VACUUM ANALYZE")
    return row_counts()


def row_counts() -> dict[str, int]:
    with admin_connection() as db, db.cursor() as cur:
        counts = {}
        for table in (
            "organizations",
            "bookings",
            "booking_assignments",
            "booking_status_history",
            "ratings",
            "support_tickets",
            "invoices",
            "invoice_payments",
            "verification_submissions",
        ):
            counts[table] = int(cur.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]
        return counts


def set_indexes(present: bool) -> None:
    """Migration 0015's indexes on (its upgrade) or off (its downgrade), then fresh stats."""
    with admin_connection() as db, db.cursor() as cur:
        for statement in indexes.CREATE if present else indexes.DROP:
            cur.execute(statement)
        cur.execute("VACUUM ANALYZE")


async def _refresh(rebuild: bool) -> Any:
    try:
        return await refresh_rollups(rebuild=rebuild)
    finally:
        await dispose_engine()  # this event loop ends here


def refresh() -> dict[str, float]:
    """Bring the rollups up to date: rebuilt when there are none, else the changed days."""
    with admin_connection() as db:
        empty = db.execute("SELECT NOT EXISTS (SELECT 1 FROM analytics_rollup_days)").fetchone()
    rebuild = bool(empty and empty[0])
    began = time.perf_counter()
    report = asyncio.run(_refresh(rebuild))
    seconds = round(time.perf_counter() - began, 1)
    console.print(f"rollups {'rebuilt' if rebuild else 'refreshed'}: {report.days} days in {seconds} s")
    return {"rebuilt": rebuild, "days": report.days, "seconds": seconds}


ROLLUPS = ("analytics_rollup_days", "analytics_booking_days", "analytics_driver_days", "analytics_truck_days")


def hide_rollups(hidden: bool) -> None:
    """Set the rollups aside (every day then reads live rows), or put them back."""
    with admin_connection() as db, db.cursor() as cur:
        for table in ROLLUPS:
            if hidden:
                cur.execute(f"DROP TABLE IF EXISTS bench_{table}")
                cur.execute(f"CREATE TABLE bench_{table} AS SELECT * FROM {table}")
                cur.execute(f"DELETE FROM {table}")
            else:
                cur.execute(f"INSERT INTO {table} SELECT * FROM bench_{table} ON CONFLICT DO NOTHING")
                cur.execute(f"DROP TABLE bench_{table}")
            cur.execute(f"VACUUM ANALYZE {table}")


def tokens() -> tuple[list[tuple[uuid.UUID, dict[str, str]]], dict[str, str]]:
    """Staff tokens of ten organizations and a platform admin's."""
    settings = get_settings()
    with admin_connection() as db:
        admins = db.execute(
            "SELECT id, org_id FROM users WHERE role = 'mover_admin' ORDER BY email LIMIT 10"
        ).fetchall()
        platform = db.execute(
            "SELECT id FROM users WHERE role = 'platform_admin' AND email = 'platform@bench.test'"
        ).fetchone()
    assert platform is not None

    def bearer(caller: Caller) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_access_token(caller, settings)}"}

    staff = [(org, bearer(Caller(role="mover_admin", user_id=user, org_id=org))) for user, org in admins]
    return staff, bearer(Caller(role="platform_admin", user_id=platform[0]))


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return round(statistics.median(ordered) * 1000, 1), round(p95 * 1000, 1)


async def measure(
    samples: int,
    views: tuple[str, ...] = VIEWS,
    scopes: tuple[str, ...] = ("organization", "platform"),
) -> dict[str, dict[str, float]]:
    from gateway.app import create_app

    app = create_app(get_settings())
    staff, platform = tokens()
    metrics = ("bookings", "revenue_cents", "completed", "collected_cents")
    results: dict[str, dict[str, float]] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=60) as http:
            for view in views:
                for scope in scopes:
                    times: list[float] = []
                    for n in range(samples + 2):  # two warm-ups
                        params: dict[str, Any] = {}
                        if view == "trends":
                            params["metric"] = metrics[n % len(metrics)]
                        headers = platform
                        if scope == "organization":
                            headers = random.choice(staff)[1]
                        started = time.perf_counter()
                        response = await http.get(f"/api/v1/analytics/{view}", params=params, headers=headers)
                        elapsed = time.perf_counter() - started
                        assert response.status_code == 200, response.text
                        if n >= 2:
                            times.append(elapsed)
                    p50, p95 = percentiles(times)
                    results[f"{view}/{scope}"] = {"p50_ms": p50, "p95_ms": p95}
                    console.print(f"  {view:<13} {scope:<12} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description="analytics benchmark")
    parser.add_argument("--samples", type=int, default=20, help="requests per endpoint, scope")
    parser.add_argument(
        "--orgs", type=int, default=ORGS, help=f"organizations of {BOOKINGS_PER_ORG:,} bookings each"
    )
    parser.add_argument(
        "--before-samples",
        type=int,
        default=10,
        help="requests per endpoint and scope without the indexes (0: skip that pass)",
    )
    parser.add_argument(
        "--live-samples",
        type=int,
        default=0,
        help="requests per endpoint and scope with the rollups hidden (0: skip that pass)",
    )
    parser.add_argument(
        "--revision", default="head", help="with --reuse: migrate to this revision first (to compare one)"
    )
    parser.add_argument("--views", default=",".join(VIEWS), help="comma-separated views")
    parser.add_argument(
        "--scopes", default="organization,platform", help="comma-separated: organization, platform"
    )
    parser.add_argument("--reuse", action="store_true", help="keep an already seeded database")
    parser.add_argument("--seed-only", action="store_true", help="seed, measure nothing")
    args = parser.parse_args()
    random.seed(7)
    started = time.perf_counter()
    if args.reuse:
        migrate(args.revision)  # a reused database gets the migrations since its seeding
        counts = row_counts()
    else:
        console.print(f"seeding {args.orgs} orgs x {BOOKINGS_PER_ORG:,} bookings ...")
        counts = seed(args.orgs)
    console.print(counts)
    if args.seed_only:
        return
    views, scopes = tuple(args.views.split(",")), tuple(args.scopes.split(","))
    before: dict[str, dict[str, float]] = {}
    if args.before_samples:
        console.print("without migration 0015's indexes:")
        set_indexes(False)
        before = asyncio.run(measure(args.before_samples, views, scopes))
    set_indexes(True)
    rollups = refresh()
    live: dict[str, dict[str, float]] = {}
    if args.live_samples:
        console.print("with the indexes, rollups hidden (live rows only):")
        hide_rollups(True)
        try:
            live = asyncio.run(measure(args.live_samples, views, scopes))
        finally:
            hide_rollups(False)
    console.print("as served (indexes, rollups):")
    after = asyncio.run(measure(args.samples, views, scopes))

    table = Table(
        title=f"analytics p95, last 30 days, {args.samples} requests each (goal <= {GOAL_MS:.0f} ms)"
    )
    columns = ("endpoint", "scope", "before p95 ms", "live p95 ms", "after p50 ms", "after p95 ms", "goal")
    for column in columns:
        table.add_column(column)
    for key, figures in after.items():
        view, scope = key.split("/")
        was = f"{before[key]['p95_ms']:.1f}" if key in before else "-"
        unrolled = f"{live[key]['p95_ms']:.1f}" if key in live else "-"
        table.add_row(
            view,
            scope,
            was,
            unrolled,
            f"{figures['p50_ms']:.1f}",
            f"{figures['p95_ms']:.1f}",
            "ok" if figures["p95_ms"] <= GOAL_MS else "MISSED",
        )
    console.print(table)
    out = Path("bench-results/analytics.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "rows": counts,
                "samples": args.samples,
                "before_samples": args.before_samples,
                "range": "default (last 30 days)",
                "goal_p95_ms": GOAL_MS,
                "before": before,
                "live_samples": args.live_samples,
                "live": live,
                "rollups": rollups,
                "after": after,
                "load_average_at_end": [round(x, 1) for x in os.getloadavg()],  # a shared machine?
                "seconds": round(time.perf_counter() - started, 1),
            },
            indent=2,
        )
        + "\n"
    )
    console.print(f"wrote {out}")


if __name__ == "__main__":
    main()
