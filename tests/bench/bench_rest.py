"""REST benchmark: wrk (C, its own processes, keep-alive, Lua scripts for the bodies and the
bearer token) against a real `movehub serve` gateway, stepped concurrency, for booking
create, quote, list (a dispatcher's, limit=20) and /healthz; and, started and measured in the
same run with the same uvicorn settings, the two baselines of tests/bench/rest_baselines.py:
a bare FastAPI /healthz and one SQLAlchemy-async INSERT per request through the gateway's own
engine and pool (the database's ceiling for a one-row write). Booking create is also run
paced at half that ceiling's rate (the p99 goal). Writes bench-results/rest.json and prints
each row's ratio to its baseline.

Rate limits are off for the gateway under test (MOVEHUB_RATE_LIMIT_ENABLED=false, set here
only: one client address at thousands of requests a second is not what they are for).
The request log stays on (MOVEHUB_LOG_LEVEL=INFO, to a discarded stdout).

Run: uv run movehub bench rest   (about four minutes; own database movehub_bench_rest)
Options: --seconds 8 --steps 16,64 --workers 1,2 (one gateway run each) --no-ray
         --profile (py-spy record of the gateway during booking create at the top step,
         its top five own-time functions in the JSON; needs py-spy on PATH: uv tool install
         py-spy). The machine is shared: compare rows of one run, not runs.
"""

from __future__ import annotations

import os

os.environ.setdefault("MOVEHUB_BENCH_DB", "movehub_bench_rest")
_DB = os.environ["MOVEHUB_BENCH_DB"]
os.environ.update(
    {
        "MOVEHUB_DATABASE_URL": f"postgresql+asyncpg://movehub_app:movehub_app@127.0.0.1:5432/{_DB}",
        "MOVEHUB_OWNER_DATABASE_URL": f"postgresql+asyncpg://movehub_owner:movehub_owner@127.0.0.1:5432/{_DB}",
        "MOVEHUB_REDIS_URL": os.environ.get("MOVEHUB_BENCH_REDIS", "redis://127.0.0.1:6379/10"),
        "MOVEHUB_LOG_LEVEL": "INFO",
        "MOVEHUB_BACKGROUND_WORKERS": "false",
        "MOVEHUB_RATE_LIMIT_ENABLED": "false",
        "MOVEHUB_FLEET_SHARDS": "2",
        "MOVEHUB_RAY_NAMESPACE": "movehub-bench-rest",
    }
)

import argparse  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections import Counter  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402
import psycopg  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from dispatch.auth.tokens import issue_access_token  # noqa: E402
from persistence.bootstrap import migrate, recreate_database  # noqa: E402
from persistence.config import get_settings  # noqa: E402
from persistence.session import Caller  # noqa: E402
from tests.bench.rest_baselines import CREATE_TABLE, TABLE  # noqa: E402

CENTER = (13.405, 52.52)
LISTED_BOOKINGS = 200
OUT = Path("bench-results/rest.json")


# ---- setup ---------------------------------------------------------------------------------
def build_world() -> dict[str, str]:
    """A fresh database: one verified org, a customer, a dispatcher, bookings to list."""
    settings = get_settings()
    recreate_database(_DB, settings)
    migrate()
    org, customer, dispatcher = (str(uuid.uuid4()) for _ in range(3))
    lon, lat = CENTER
    area = (
        f"SRID=4326;MULTIPOLYGON((({lon - 0.3} {lat - 0.2},{lon + 0.3} {lat - 0.2},"
        f"{lon + 0.3} {lat + 0.2},{lon - 0.3} {lat + 0.2},{lon - 0.3} {lat - 0.2})))"
    )
    app_role = make_url(settings.database_url).username
    admin = psycopg.connect(settings.admin_database_url.rsplit("/", 1)[0] + f"/{_DB}")
    with admin, admin.cursor() as cur:
        cur.execute(
            "INSERT INTO organizations (id, name, code, service_area, base_location, "
            "hourly_rate_cents, per_km_cents, minimum_charge_cents, currency, verified)"
            " VALUES (%s, 'Bench Movers', 'BENCH1', %s, %s, 4500, 150, 10000, 'EUR', "
            "true)",
            (org, area, f"SRID=4326;POINT({lon} {lat})"),
        )
        cur.execute(
            "INSERT INTO users (id, role, email, full_name) VALUES "
            "(%s, 'customer', 'bench-customer@example.com', 'Bench Customer')",
            (customer,),
        )
        cur.execute(
            "INSERT INTO users (id, role, org_id, email, full_name) VALUES "
            "(%s, 'dispatcher', %s, 'bench-dispatcher@example.com', 'Bench Dispatch')",
            (dispatcher, org),
        )
        cur.execute(
            "INSERT INTO bookings (org_id, customer_id, pickup_address, pickup_location, "
            "dropoff_address, dropoff_location, window_start, window_end, volume_m3, crew_size,"
            " distance_km, price_cents, currency) SELECT %s, %s, 'A', %s, 'B', %s, "
            "now() + make_interval(days => 1 + g %% 300), "
            "now() + make_interval(days => 1 + g %% 300, hours => 4), 20, 2, 11.13, 50000, "
            "'EUR' FROM generate_series(1, %s) g",
            (
                org,
                customer,
                f"SRID=4326;POINT({lon} {lat})",
                f"SRID=4326;POINT({lon} {lat + 0.1})",
                LISTED_BOOKINGS,
            ),
        )
        cur.execute(CREATE_TABLE)
        cur.execute(f"GRANT SELECT, INSERT ON {TABLE} TO {app_role}")
        cur.execute(f"GRANT USAGE ON SEQUENCE {TABLE}_id_seq TO {app_role}")
    admin.close()
    return {
        "org": org,
        "customer": issue_access_token(Caller("customer", uuid.UUID(customer)), settings),
        "dispatcher": issue_access_token(
            Caller("dispatcher", uuid.UUID(dispatcher), uuid.UUID(org)), settings
        ),
    }


def booking_body(org: str) -> dict[str, Any]:
    lon, lat = CENTER
    start = (datetime.now(UTC) + timedelta(days=3)).replace(hour=8, minute=0, second=0, microsecond=0)
    return {
        "org_id": org,
        "pickup": {"address": "Alexanderplatz 1", "location": {"lon": lon, "lat": lat}},
        "dropoff": {"address": "Pankow 5", "location": {"lon": lon, "lat": lat + 0.1}},
        "window_start": start.isoformat(),
        "window_end": (start + timedelta(hours=6)).isoformat(),
        "volume_m3": 20,
        "crew_size": 2,
        "required_skills": [],
        "notes": "bench",
    }


def quote_body(org: str) -> dict[str, Any]:
    lon, lat = CENTER
    return {
        "org_id": org,
        "pickup": {"lon": lon, "lat": lat},
        "dropoff": {"lon": lon, "lat": lat + 0.1},
        "volume_m3": 20,
        "crew_size": 2,
    }


# ---- servers -------------------------------------------------------------------------------
def start(kind: str, port: int, workers: int, ray: bool) -> subprocess.Popen[bytes]:
    env = {**os.environ, "RAY_ADDRESS": "", "MOVEHUB_RAY_ENABLED": str(ray).lower()}
    if kind == "gateway":  # the real command, --workers included
        command = [
            sys.executable,
            "-m",
            "gateway.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ]
    else:  # the same uvicorn settings as `movehub serve` (gateway/cli.py _serve)
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "tests.bench.rest_baselines:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--ws",
            "websockets-sansio",
            "--ws-per-message-deflate",
            "false",
            "--log-level",
            "warning",
            "--workers",
            str(workers),
        ]
        env["MOVEHUB_GATEWAY_WORKERS"] = str(workers)
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, start_new_session=True)


def wait_ready(base: str, server: subprocess.Popen[bytes], path: str) -> None:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server at {base} exited while starting")
        try:
            if httpx.get(f"{base}{path}", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{base} did not become ready")


def stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def server_pid(server: subprocess.Popen[bytes]) -> int:
    """The process that serves: uvicorn itself with one worker, else its first child."""
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children")
    kids = children.read_text().split() if children.exists() else []
    return int(kids[0]) if kids else server.pid


# ---- wrk -----------------------------------------------------------------------------------
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return round(float(number) * _UNIT_MS[unit], 2)


def lua(
    directory: Path,
    name: str,
    method: str,
    token: str | None = None,
    body: dict[str, Any] | None = None,
    delay_ms: float | None = None,
) -> Path:
    lines = [f'wrk.method = "{method}"']
    if body is not None:
        lines += [f"wrk.body = [[{json.dumps(body)}]]", 'wrk.headers["Content-Type"] = "application/json"']
    if token:
        lines.append(f'wrk.headers["Authorization"] = "Bearer {token}"')
    if delay_ms:
        lines.append(f"function delay() return {int(delay_ms)} end")
    path = directory / f"{name}.lua"
    path.write_text("\n".join(lines) + "\n")
    return path


def wrk(url: str, connections: int, seconds: float, script: Path) -> dict[str, Any]:
    out = subprocess.run(
        [
            "wrk",
            "-t",
            str(min(2, connections)),
            "-c",
            str(connections),
            "-d",
            f"{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Requests/sec" not in out or "Latency Distribution" not in out:
        print(out, file=sys.stderr)
    percentiles = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)\s*$", out, re.M))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "connections": connections,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": _ms(percentiles["50"]) if "50" in percentiles else None,
        "p99_ms": _ms(percentiles["99"]) if "99" in percentiles else None,
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": sum(int(n) for n in errors.groups()) if errors else 0,
    }


def ladder(name: str, url: str, script: Path, steps: list[int], seconds: float) -> list[dict[str, Any]]:
    wrk(url, steps[0], 2, script)  # warm-up: connections, caches, prepared statements
    rows = []
    for connections in steps:
        row = {"target": name, **wrk(url, connections, seconds, script)}
        print(
            f"  {name:<22} c={connections:<4} {row['rps']:>8.0f}/s  p50 {row['p50_ms']:>7} ms"
            f"  p99 {row['p99_ms']:>7} ms  non-2xx {row['non_2xx']}  errors "
            f"{row['socket_errors']}",
            flush=True,
        )
        rows.append(row)
    return rows


# ---- py-spy --------------------------------------------------------------------------------
def profile_start(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
    if shutil.which("py-spy") is None:
        print("  (py-spy not on PATH: `uv tool install py-spy` for --profile)")
        return None
    return subprocess.Popen(
        [
            "py-spy",
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(int(seconds)),
            "--rate",
            "200",
            "--format",
            "raw",
            "--output",
            str(out),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def top_own(raw: Path, count: int = 5) -> list[dict[str, Any]]:
    """py-spy top's first rows: the functions with the most samples on top of the stack."""
    own: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        if not stack:
            continue
        leaf = re.sub(r":\d+\)$", ")", stack.split(";")[-1])
        own[leaf] += int(samples)
        total += int(samples)
    return (
        [{"function": f, "own_pct": round(100 * n / total, 1)} for f, n in own.most_common(count)]
        if total
        else []
    )


# ---- the run -------------------------------------------------------------------------------
def ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b else None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--steps", default="16,64", help="connections per step")
    parser.add_argument("--workers", default="1", help="gateway runs, e.g. 1,2")
    parser.add_argument("--port", type=int, default=18710)
    parser.add_argument("--no-ray", action="store_true", help="MOVEHUB_RAY_ENABLED=false")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (scripts/setup.sh installs it: apt wrk)")
    steps = [int(s) for s in args.steps.split(",")]
    top = max(steps)
    world = build_world()
    scripts = Path(tempfile.mkdtemp(prefix="movehub-bench-rest-"))
    base = f"http://127.0.0.1:{args.port}"
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "load_avg_at_start": os.getloadavg(),
        "steps": steps,
        "seconds": args.seconds,
        "note": "shared machine: other sessions were running; compare rows of this run",
        "rows": [],
    }

    print("baselines (tests/bench/rest_baselines.py, same uvicorn settings):", flush=True)
    server = start("baseline", args.port, 1, ray=False)
    try:
        wait_ready(base, server, "/healthz")
        get = lua(scripts, "get", "GET")
        post = lua(scripts, "insert", "POST")
        results["rows"] += ladder("bare /healthz", f"{base}/healthz", get, steps, args.seconds)
        results["rows"] += ladder("INSERT ceiling", f"{base}/insert", post, steps, args.seconds)
    finally:
        stop(server)
    ceiling = max(r["rps"] for r in results["rows"] if r["target"] == "INSERT ceiling")
    bare = max(r["rps"] for r in results["rows"] if r["target"] == "bare /healthz")

    for workers in [int(w) for w in args.workers.split(",")]:
        tag = f"[{workers}w]"
        print(
            f"gateway `movehub serve --workers {workers}`{' (Ray off)' if args.no_ray else ' (local Ray)'}:",
            flush=True,
        )
        server = start("gateway", args.port, workers, ray=not args.no_ray)
        try:
            wait_ready(base, server, "/readyz")
            create = lua(scripts, "create", "POST", world["customer"], booking_body(world["org"]))
            quote = lua(scripts, "quote", "POST", world["customer"], quote_body(world["org"]))
            listing = lua(scripts, "list", "GET", world["dispatcher"])
            health = lua(scripts, "health", "GET")
            results["rows"] += ladder(f"{tag} GET /healthz", f"{base}/healthz", health, steps, args.seconds)
            profiler = None
            if args.profile and workers == 1:
                raw = scripts / "rest-create.pyspy.txt"
                OUT.parent.mkdir(exist_ok=True)
                wrk(f"{base}/api/v1/bookings", steps[0], 2, create)
                # Recorded during the top step of booking create (the ladder's last one).
                profiler = profile_start(
                    server_pid(server), args.seconds * (len(steps) - 1) + 2 + args.seconds, raw
                )
            results["rows"] += ladder(
                f"{tag} POST /bookings", f"{base}/api/v1/bookings", create, steps, args.seconds
            )
            if profiler is not None:
                profiler.wait(timeout=120)
                results["profile_booking_create_top5"] = top_own(raw)
                print("  py-spy, booking create, own time:", flush=True)
                for row in results["profile_booking_create_top5"]:
                    print(f"    {row['own_pct']:>5}%  {row['function']}")
            # Paced: half the INSERT ceiling's rate, from 16 connections with think time.
            half = ceiling / 2
            paced = lua(
                scripts,
                "create-paced",
                "POST",
                world["customer"],
                booking_body(world["org"]),
                delay_ms=max(1.0, 16 * 1000 / half),
            )
            row = {
                "target": f"{tag} POST /bookings paced",
                "offered_rps": round(half),
                **wrk(f"{base}/api/v1/bookings", 16, args.seconds, paced),
            }
            print(f"  paced at ~{half:.0f}/s: {row['rps']:.0f}/s p99 {row['p99_ms']} ms")
            results["rows"].append(row)
            results["rows"] += ladder(
                f"{tag} POST /bookings/quote", f"{base}/api/v1/bookings/quote", quote, steps, args.seconds
            )
            results["rows"] += ladder(
                f"{tag} GET /bookings?limit=20",
                f"{base}/api/v1/bookings?limit=20",
                listing,
                steps,
                args.seconds,
            )
        finally:
            stop(server)

    print(
        f"\nratios at {top} connections (INSERT ceiling {ceiling:.0f}/s, bare /healthz "
        f"{bare:.0f}/s, best step of each):"
    )
    ratios: dict[str, Any] = {}
    for row in results["rows"]:
        if row["connections"] != top or not row["target"].startswith("["):
            continue
        against = bare if row["target"].endswith("/healthz") else ceiling
        ratios[row["target"]] = ratio(row["rps"], against)
        print(f"  {row['target']:<30} {row['rps']:>8.0f}/s  x{ratios[row['target']]}  p99 {row['p99_ms']} ms")
    results["ceiling_rps"], results["bare_rps"], results["ratios"] = ceiling, bare, ratios
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
