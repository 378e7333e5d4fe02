"""Real-time benchmark: a real uvicorn gateway with local Ray, real websocket clients in
separate processes. Measures, in one run: sustained location ingest (updates/s into shard
state, ingest-to-state p50/p99 as seen by the server), board fan-out change-to-receipt
p50/p99 at 100 and 1,000 boards (board events, the baseline; and position ticks, driver ts to
board receipt), memory per connection (server RSS delta / connections), and the
one-shard-call-per-ping baseline. Writes bench-results/realtime.json.

Position ticks are attributed hop by hop: with realtime stats on, the gateway stamps each ping
when its socket received it (`rx`), when the flush published it after the shard call (`ap`),
when the hub heard it from the bus (`hb`), and each tick frame when it was built (`built`);
the hub also counts how long after `built` each board's socket was given the frame. The board
clients (spread over --board-procs processes, so the client is not the bottleneck) put every
driver of every tick on those hops: device -> gateway, batch + shard, bus, tick wait, write +
client read; and the tail (the samples at or above p99) as the mean of each hop.

Run: uv run movehub bench realtime   (about three minutes; own database movehub_bench_rt)
Options: --drivers 2000 --rate 12000 --seconds 10 (ingest steps up to --rate)
         --board-procs 4 (board client processes)
"""

from __future__ import annotations

import os

os.environ.setdefault("MOVEHUB_BENCH_DB", "movehub_bench_rt")
_DB = os.environ["MOVEHUB_BENCH_DB"]
os.environ.update(
    {
        "MOVEHUB_DATABASE_URL": f"postgresql+asyncpg://movehub_app:movehub_app@127.0.0.1:5432/{_DB}",
        "MOVEHUB_OWNER_DATABASE_URL": f"postgresql+asyncpg://movehub_owner:movehub_owner@127.0.0.1:5432/{_DB}",
        "MOVEHUB_REDIS_URL": os.environ.get("MOVEHUB_BENCH_REDIS", "redis://127.0.0.1:6379/11"),
        "MOVEHUB_LOG_LEVEL": "WARNING",
        "MOVEHUB_BACKGROUND_WORKERS": "false",
        "MOVEHUB_REALTIME_STATS_ENABLED": "true",
        "MOVEHUB_INGEST_UNBATCHED_ALLOWED": "true",
        "MOVEHUB_WS_MAX_MSGS_PER_S": "100",
        "MOVEHUB_FLEET_SHARDS": "2",
        "MOVEHUB_RAY_NAMESPACE": "movehub-bench-rt",
    }
)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import multiprocessing as mp  # noqa: E402
import queue  # noqa: E402
import random  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402
import numpy as np  # noqa: E402
import orjson  # noqa: E402
import psycopg  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from dispatch.auth.tokens import issue_access_token  # noqa: E402
from persistence.bootstrap import migrate, recreate_database  # noqa: E402
from persistence.config import get_settings  # noqa: E402
from persistence.session import Caller  # noqa: E402

CENTER = (13.405, 52.52)
ORGS = 20
console = Console()


# ---- setup ---------------------------------------------------------------------------------
def build_fleet(drivers: int) -> tuple[list[str], list[tuple[str, str, str]], str]:
    """Orgs, (driver, org, user) and a dispatcher of the first org: users are rows, since a
    socket lives only while its user is active (the session sweep closes the others)."""
    settings = get_settings()
    recreate_database(_DB, settings)
    migrate()
    orgs = [str(uuid.uuid4()) for _ in range(ORGS)]
    fleet = [(str(uuid.uuid4()), orgs[i % ORGS], str(uuid.uuid4())) for i in range(drivers)]
    dispatcher = str(uuid.uuid4())
    lon, lat = CENTER
    area = (
        f"SRID=4326;MULTIPOLYGON((({lon - 0.3} {lat - 0.2},{lon + 0.3} {lat - 0.2},"
        f"{lon + 0.3} {lat + 0.2},{lon - 0.3} {lat + 0.2},{lon - 0.3} {lat - 0.2})))"
    )
    admin = psycopg.connect(settings.admin_database_url.rsplit("/", 1)[0] + f"/{_DB}")
    with admin, admin.cursor() as cur:
        with cur.copy(
            "COPY organizations (id, name, code, service_area, base_location, "
            "hourly_rate_cents, per_km_cents, minimum_charge_cents, currency, "
            "verified) FROM STDIN"
        ) as copy:
            for i, org in enumerate(orgs):
                copy.write_row(
                    (
                        org,
                        f"Realtime Movers {i}",
                        f"R{i:05d}",
                        area,
                        f"SRID=4326;POINT({lon} {lat})",
                        4500,
                        150,
                        10000,
                        "EUR",
                        True,
                    )
                )
        with cur.copy("COPY users (id, role, org_id, full_name, email) FROM STDIN") as copy:
            copy.write_row((dispatcher, "dispatcher", orgs[0], "Dispatcher", f"{dispatcher}@bench.invalid"))
            for i, (_, org, user) in enumerate(fleet):
                copy.write_row((user, "driver", org, f"Driver {i}", f"{user}@bench.invalid"))
        with cur.copy(
            "COPY drivers (id, org_id, user_id, full_name, skills, home_base, verified) FROM STDIN"
        ) as copy:
            for i, (driver, org, user) in enumerate(fleet):
                copy.write_row(
                    (driver, org, user, f"Driver {i}", "{driver}", f"SRID=4326;POINT({lon} {lat})", True)
                )
    admin.close()
    return orgs, fleet, dispatcher


def start_server(port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "gateway.app:create_app",
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
        ],
        # Its own local Ray, unless MOVEHUB_BENCH_RAY_ADDRESS names a cluster to join.
        env={**os.environ, "RAY_ADDRESS": os.environ.get("MOVEHUB_BENCH_RAY_ADDRESS", "")},
        stdout=subprocess.DEVNULL,
    )


def wait_ready(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the gateway exited while starting")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit("the gateway did not become ready")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def stats(base: str, reset: bool = False) -> dict[str, Any]:
    answer = httpx.get(f"{base}/realtime/stats", params={"reset": "1"} if reset else {}, timeout=10).json()
    return dict(answer)


def pct(samples: list[float], q: float) -> float | None:
    return round(float(np.percentile(samples, q)), 1) if samples else None


# ---- client processes ----------------------------------------------------------------------
async def _open(url: str, attempts: int = 8) -> Any:
    """One socket and its first frame (hello / snapshot); a socket closed with 1013 while the
    gateway's pools are busy with a thousand others connecting is opened again, as a client
    would after a back-off."""
    import websockets

    for attempt in range(attempts):
        try:
            ws = await websockets.connect(url, compression=None, open_timeout=60, max_size=None)
            await ws.recv()
            return ws
        except Exception:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.5 * (attempt + 1))


async def _connect_all(urls: list[str], batch: int = 100) -> list[Any]:
    sockets: list[Any] = []
    for start in range(0, len(urls), batch):
        sockets.extend(await asyncio.gather(*(_open(u) for u in urls[start : start + batch])))
    return sockets


async def _drivers(base: str, tokens: list[str], direct: bool, commands: Any, results: Any) -> None:
    """Drivers streaming one ping per frame; the rate follows ("rate", n) commands."""
    suffix = "&ingest=direct" if direct else ""
    sockets = await _connect_all([f"{base}/ws/driver?token={t}{suffix}" for t in tokens])
    results.put(("ready", len(sockets)))
    rng = random.Random(7)
    lat = [CENTER[1] + rng.uniform(-0.1, 0.1) for _ in sockets]
    lon = [CENTER[0] + rng.uniform(-0.15, 0.15) for _ in sockets]
    rate, sent, turn, carry = 0.0, 0, 0, 0.0
    step = 0.01
    while True:
        try:
            command = commands.get_nowait()
        except queue.Empty:
            command = None
        if command and command[0] == "stop":
            break
        if command and command[0] == "rate":
            rate = command[1]
        started = time.perf_counter()
        carry += rate * step
        burst, carry = int(carry), carry - int(carry)
        for _ in range(burst):
            i = turn % len(sockets)
            turn += 1
            lat[i] += rng.uniform(-2e-4, 2e-4)
            lon[i] += rng.uniform(-3e-4, 3e-4)
            try:
                await sockets[i].send(
                    orjson.dumps(
                        {
                            "type": "ping",
                            "lat": lat[i],
                            "lon": lon[i],
                            "heading": 90.0,
                            "speed": 8.0,
                            "accuracy": 5.0,
                            "ts": time.time(),
                        }
                    ).decode()
                )
                sent += 1
            except Exception:
                pass
        await asyncio.sleep(max(0.0, step - (time.perf_counter() - started)))
    results.put(("sent", sent))
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


HOPS = ("device_to_gateway", "batch_and_shard", "bus", "tick_wait", "write_and_read")
STAMPS = ("ts", "rx", "ap", "hb")  # then the tick's `built`, then the receipt


async def _boards(base: str, token: str, count: int, commands: Any, results: Any) -> None:
    """Boards recording change-to-receipt: bench.mark events (stamped at publish) and the
    position ticks (stamped with the ping's send time, and the gateway's hop stamps)."""
    sockets = await _connect_all([f"{base}/ws/board?token={token}"] * count, batch=50)
    results.put(("ready", len(sockets)))
    marks: list[float] = []
    positions: list[tuple[float, ...]] = []  # ts, rx, ap, hb, built, received (0: no stamp)

    async def read(ws: Any) -> None:
        async for raw in ws:
            now = time.time()
            message = orjson.loads(raw)
            if message["type"] == "events":
                marks.extend((now - e["ts"]) * 1000 for e in message["events"] if e["kind"] == "bench.mark")
            elif message["type"] == "tick":
                built = message.get("built", 0.0)
                positions.extend(
                    (*(d.get(k, 0.0) for k in STAMPS), built, now) for d in message["drivers"] if "ts" in d
                )

    readers = [asyncio.create_task(read(ws)) for ws in sockets]
    while True:
        try:
            command = commands.get_nowait()
        except queue.Empty:
            await asyncio.sleep(0.05)
            continue
        if command[0] == "stop":
            break
    for task in readers:
        task.cancel()
    results.put(("latency", marks, np.array(positions, dtype=np.float64).reshape(-1, 6)))
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


def _quiet_gc() -> None:
    """The load generators collect rarely too: their pauses would bunch pings into bursts."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def run_drivers(base: str, tokens: list[str], direct: bool, commands: Any, results: Any) -> None:
    _quiet_gc()
    asyncio.run(_drivers(base, tokens, direct, commands, results))


def run_boards(base: str, token: str, count: int, commands: Any, results: Any) -> None:
    _quiet_gc()
    asyncio.run(_boards(base, token, count, commands, results))


class Client:
    """A client process and its command/result queues."""

    def __init__(self, target: Any, *args: Any) -> None:
        ctx = mp.get_context("spawn")
        self.commands, self.results = ctx.Queue(), ctx.Queue()
        self.process = ctx.Process(target=target, args=(*args, self.commands, self.results))
        self.process.start()

    def expect(self, kind: str, timeout: float = 300) -> tuple[Any, ...]:
        message: tuple[Any, ...] = self.results.get(timeout=timeout)
        assert message[0] == kind, message
        return message

    def send(self, *command: Any) -> None:
        self.commands.put(command)

    def join(self) -> None:
        self.process.join(timeout=60)
        if self.process.is_alive():
            self.process.kill()


# ---- phases --------------------------------------------------------------------------------
def ingest_phase(base: str, drivers: Client, rate: float, seconds: float) -> dict[str, Any]:
    drivers.send("rate", rate)
    time.sleep(3)  # warm-up
    stats(base, reset=True)
    time.sleep(seconds)
    result: dict[str, Any] = stats(base)["ingest"]
    result["updates_per_s"] = round(result["applied"] / result["seconds"], 1)
    result["offered_per_s"] = rate
    return result


def ingest_ladder(base: str, drivers: Client, top: float, seconds: float) -> dict[str, Any]:
    """Offered rates stepping up to `top`; sustained ingest is the highest applied rate whose
    ingest-to-state p99 stays within the 250 ms target (an overloaded step only shows how
    latency grows once the offered rate passes what the machine can apply)."""
    steps = [round(top * f) for f in (0.6, 0.75, 0.85, 0.92, 0.96, 1.0)]
    rows = []
    for rate in steps:
        row = ingest_phase(base, drivers, rate, seconds)
        console.print(
            f"  offered {rate:,}/s -> applied {row['updates_per_s']:,}/s, "
            f"p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms"
        )
        rows.append(row)
    within = [r for r in rows if r["p99_ms"] is not None and r["p99_ms"] <= 250]
    best = max(within, key=lambda r: r["updates_per_s"]) if within else rows[0]
    return {
        **best,
        "ladder": [{k: r[k] for k in ("offered_per_s", "updates_per_s", "p50_ms", "p99_ms")} for r in rows],
    }


def hop_table(stamped: Any) -> dict[str, Any]:
    """Driver ts -> board receipt, and each hop of it, in ms: p50, p99, and the tail (the
    samples at or above the total's p99) as the mean of each hop."""
    if not len(stamped):
        return {}
    total = (stamped[:, 5] - stamped[:, 0]) * 1000
    have = np.all(stamped[:, 1:5] > 0, axis=1)  # every hop stamped (realtime stats on)
    table: dict[str, Any] = {"samples": len(total), "stamped": int(have.sum())}
    cut = np.percentile(total, 99)
    tail = total >= cut
    table["total"] = {
        "p50": round(float(np.percentile(total, 50)), 1),
        "p99": round(float(cut), 1),
        "tail_mean": round(float(total[tail].mean()), 1),
    }
    if have.any():
        rows, total_s = stamped[have], total[have]
        tail_s = total_s >= np.percentile(total_s, 99)
        for i, hop in enumerate(HOPS):
            ms = (rows[:, i + 1] - rows[:, i]) * 1000
            table[hop] = {
                "p50": round(float(np.percentile(ms, 50)), 1),
                "p99": round(float(np.percentile(ms, 99)), 1),
                "tail_mean": round(float(ms[tail_s].mean()), 1),
            }
    return table


def hop_print(boards: int, hops: dict[str, Any]) -> Table:
    table = Table(
        title=f"position ticks at {boards} boards, by hop (ms; "
        f"{hops.get('stamped', 0):,} of {hops.get('samples', 0):,} stamped)"
    )
    for column in ("hop", "p50", "p99", "tail mean (>= p99)"):
        table.add_column(column, justify="left" if column == "hop" else "right")
    for hop in ("total", *HOPS):
        if hop in hops:
            row = hops[hop]
            table.add_row(hop, str(row["p50"]), str(row["p99"]), str(row["tail_mean"]))
    return table


def fanout_phase(
    ws_base: str, org: str, token: str, boards: int, server_pid: int, seconds: float, procs: int
) -> dict[str, Any]:
    before = rss_kib(server_pid)
    procs = max(1, min(procs, boards // 25))
    shares = [boards // procs + (1 if i < boards % procs else 0) for i in range(procs)]
    clients = [Client(run_boards, ws_base, token, share) for share in shares]
    for client in clients:
        client.expect("ready")
    time.sleep(1.0)
    grown = rss_kib(server_pid) - before
    stats(ws_base.replace("ws://", "http://"), reset=True)  # the hub's hop counts start here

    async def marks() -> None:
        from persistence import events
        from persistence.redis import close_redis

        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            await events.publish(uuid.UUID(org), {"type": "bench.mark", "data": {}})
            await asyncio.sleep(0.25)  # a busy dispatch office: 4 board events a second
        await close_redis()

    asyncio.run(marks())
    time.sleep(0.5)
    hub = stats(ws_base.replace("ws://", "http://"))["hub"]
    for client in clients:
        client.send("stop")
    latencies: list[float] = []
    parts = []
    for client in clients:
        _, marks_ms, stamped = client.expect("latency")
        latencies += marks_ms
        parts.append(stamped)
        client.join()
    stamped = np.concatenate(parts)
    positions = list((stamped[:, 5] - stamped[:, 0]) * 1000)
    server = {
        k: hub.get(k)
        for k in (
            "sent_after_build_p50_ms",
            "sent_after_build_p99_ms",
            "sent_after_build_max_ms",
            "tick_p50_ms",
            "tick_p99_ms",
            "tick_max_ms",
            "ticks_merged",
            "queued_frames_max",
        )
    }
    return {
        "boards": boards,
        "board_procs": procs,
        "snapshot_drops": hub["snapshot_drops"],
        "p50_ms": pct(latencies, 50),
        "p99_ms": pct(latencies, 99),
        "received": len(latencies),
        "position_p50_ms": pct(positions, 50),
        "position_p99_ms": pct(positions, 99),
        "position_hops": hop_table(stamped),
        "server": server,
        "rss_kib_per_board": round(grown / boards, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--drivers", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=12000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--board-procs", type=int, default=4)
    args = parser.parse_args()
    base, ws_base = f"http://127.0.0.1:{args.port}", f"ws://127.0.0.1:{args.port}"

    with console.status("building the fleet database"):
        orgs, fleet, dispatcher = build_fleet(args.drivers)
    tokens = [
        issue_access_token(
            Caller(
                role="driver", user_id=uuid.UUID(user), org_id=uuid.UUID(org), driver_id=uuid.UUID(driver)
            ),
            get_settings(),
        )
        for driver, org, user in fleet
    ]
    board_token = issue_access_token(
        Caller(role="dispatcher", user_id=uuid.UUID(dispatcher), org_id=uuid.UUID(orgs[0])), get_settings()
    )
    server = start_server(args.port)
    results: dict[str, Any] = {}
    try:
        with console.status("starting the gateway with local Ray"):
            wait_ready(base, server)
        idle = rss_kib(server.pid)
        with console.status(f"connecting {args.drivers} drivers"):
            drivers = Client(run_drivers, ws_base, tokens, False)
            drivers.expect("ready")
            time.sleep(1.0)
        per_driver = (rss_kib(server.pid) - idle) / args.drivers
        console.print(f"{args.drivers} driver sockets: {per_driver:.1f} KiB each (server RSS)")

        with console.status(f"ingest: offered rates up to {args.rate:,.0f} pings/s"):
            ingest = ingest_ladder(base, drivers, args.rate, args.seconds)
        console.print(f"ingest: {ingest}")
        if os.environ.get("MOVEHUB_BENCH_INGEST_ONLY"):  # profiling the ingest path alone
            drivers.send("stop")
            drivers.expect("sent")
            drivers.join()
            return

        drivers.send("rate", args.drivers / 2)  # background motion while boards watch
        fanout = {}
        for boards in (100, 1000):
            with console.status(f"fan-out to {boards} boards"):
                fanout[boards] = fanout_phase(
                    ws_base, orgs[0], board_token, boards, server.pid, min(args.seconds, 10), args.board_procs
                )
            hops = fanout[boards].pop("position_hops")
            console.print(f"fan-out {boards}: {fanout[boards]}")
            console.print(hop_print(boards, hops))
            fanout[boards]["position_hops"] = hops
        drivers.send("stop")
        drivers.expect("sent")
        drivers.join()

        with console.status("baseline: one shard call per ping"):
            direct = Client(run_drivers, ws_base, tokens[:500], True)
            direct.expect("ready")
            baseline = ingest_phase(base, direct, args.rate, min(args.seconds, 10))
            direct.send("stop")
            direct.expect("sent")
            direct.join()
        console.print(f"baseline: {baseline}")
        results = {
            "ingest_updates_per_s": ingest["updates_per_s"],
            "ingest_p50_ms": ingest["p50_ms"],
            "ingest_p99_ms": ingest["p99_ms"],
            "ingest_offered_per_s": ingest["offered_per_s"],
            "ingest_ladder": ingest["ladder"],
            "ingest_shard_calls_per_flush": round(ingest["shard_calls"] / max(1, ingest["flushes"]), 2),
            "baseline_updates_per_s": baseline["updates_per_s"],
            "baseline_p99_ms": baseline["p99_ms"],
            "fanout_p50_ms_100": fanout[100]["p50_ms"],
            "fanout_p99_ms_100": fanout[100]["p99_ms"],
            "fanout_p50_ms_1000": fanout[1000]["p50_ms"],
            "fanout_p99_ms_1000": fanout[1000]["p99_ms"],
            "fanout_position_p50_ms_100": fanout[100]["position_p50_ms"],
            "fanout_position_p99_ms_100": fanout[100]["position_p99_ms"],
            "fanout_position_p50_ms_1000": fanout[1000]["position_p50_ms"],
            "fanout_position_p99_ms_1000": fanout[1000]["position_p99_ms"],
            "position_hops_1000": fanout[1000]["position_hops"],
            "hub_1000": fanout[1000]["server"],
            "board_procs": fanout[1000]["board_procs"],
            "rss_kib_per_conn": round(per_driver, 1),
            "rss_kib_per_board": fanout[1000]["rss_kib_per_board"],
            "drivers": args.drivers,
            "cpus": os.cpu_count(),
        }
    finally:
        server.terminate()
        server.wait(timeout=60)
    Path("bench-results").mkdir(exist_ok=True)
    Path("bench-results/realtime.json").write_text(json.dumps(results, indent=2) + "\n")
    table = Table(title="Real-time gateway (bench-results/realtime.json)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    targets = {
        "ingest_updates_per_s": ">= 10,000",
        "ingest_p99_ms": "<= 250",
        "fanout_p99_ms_100": "<= 150",
        "fanout_p99_ms_1000": "<= 300",
    }
    targets["fanout_position_p99_ms_1000"] = "<= 300"
    for key, value in results.items():
        if key in ("ingest_ladder", "position_hops_1000", "hub_1000"):
            continue
        shown = f"{value:,.1f}" if isinstance(value, float) and not math.isnan(value) else str(value)
        table.add_row(key, shown, targets.get(key, ""))
    console.print(table)


if __name__ == "__main__":
    main()
