"""The `movehub` command: set up the database, seed demo data, serve, simulate, benchmark,
and scale the fleet shards of a running Ray cluster."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from persistence.config import Settings


def _bootstrap(_: argparse.Namespace) -> None:
    from persistence.bootstrap import ensure_database, migrate

    name = ensure_database()
    migrate()
    print(f"database {name!r}: roles, extensions and migrations are in place")


def _serve(args: argparse.Namespace) -> None:
    import uvicorn

    from gateway.startup import event_streams_problem
    from persistence.config import get_settings

    # Refused here with one line, not as a traceback from inside uvicorn's app factory.
    problem = event_streams_problem(get_settings(), args.workers)
    if problem is not None:
        raise SystemExit(f"movehub serve: refusing to start: {problem}")
    if args.workers > 1:
        share_one_ray(args.workers)
    # permessage-deflate off: driver pings are ~150 bytes, compressing them only costs CPU
    # (uvicorn's switch is per server, so board frames go uncompressed too). The frame limit
    # stays above MOVEHUB_WS_MAX_MESSAGE_BYTES so the app can close with 1009 and a reason.
    # websockets-sansio: no task juggling per received frame (the legacy protocol's
    # asyncio.wait per message cost more CPU than our whole ping handling).
    uvicorn.run(
        "gateway.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop="uvloop",
        ws="websockets-sansio",
        log_level="warning",
        # SIGTERM: open sockets get this long to end, then they are closed (a service
        # manager's stop must not wait on a board that never hangs up).
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
        ws_per_message_deflate=False,
        ws_max_size=max(64 * 1024, 4 * get_settings().ws_max_message_bytes),
        **ws_keepalive(get_settings()),
    )


SHUTDOWN_GRACE_S = 10


def share_one_ray(workers: int) -> None:
    """Several workers, one Ray: this (supervising) process starts the local Ray unless
    RAY_ADDRESS names a cluster, and the workers it spawns join it by that address, so they
    find the same named, detached fleet directory and shards (one live state, not N). Each
    worker's database pool is cut to its share of MOVEHUB_DB_CONNECTION_BUDGET."""
    import os

    from persistence.config import get_settings

    os.environ["MOVEHUB_GATEWAY_WORKERS"] = str(workers)
    get_settings.cache_clear()
    settings = get_settings()
    if settings.ray_enabled and not settings.ray_address:
        from actors.runtime import start_local_head

        os.environ["RAY_ADDRESS"] = start_local_head(settings)
        get_settings.cache_clear()


class WsKeepalive(TypedDict):
    ws_ping_interval: float
    ws_ping_timeout: float


def ws_keepalive(settings: Settings) -> WsKeepalive:
    """uvicorn's websocket ping options, on purpose (docs/realtime-protocol.md, slow boards);
    every server that runs the gateway passes these."""
    return {"ws_ping_interval": settings.ws_ping_interval_s, "ws_ping_timeout": settings.ws_ping_timeout_s}


def _seed(args: argparse.Namespace) -> None:
    from gateway.seed import run_seed

    run_seed(args)


def _up(args: argparse.Namespace) -> None:
    from gateway.up import run_up

    run_up(args)


def _simulate(args: argparse.Namespace) -> None:
    from gateway.simulator.cli import run_simulator

    run_simulator(args)


def _shards(args: argparse.Namespace) -> None:
    import asyncio

    from actors.runtime import administer_shards
    from persistence.config import get_settings

    settings = get_settings()
    if not settings.ray_address:  # a Ray of our own would have no shards worth scaling
        raise SystemExit(
            "movehub shards: set RAY_ADDRESS to the cluster the gateways use "
            "(on its head node: RAY_ADDRESS=auto)"
        )
    if args.action == "scale" and (args.count is None or args.count < 1):
        raise SystemExit("movehub shards scale: how many shards (1 or more)? e.g. `movehub shards scale 4`")
    report, table = asyncio.run(administer_shards(settings, args.action, args.count))
    for move in report.get("moves", []):
        print(
            f"shard {move['from']} -> {move['to']}: {move['slots']} slots, "
            f"{move['orgs']} orgs, paused {move['pause_ms']} ms"
        )
    if "moves" in report:
        print(
            f"{len(report['moves'])} moves, longest pause {report['max_pause_ms']} ms, "
            f"{report['seconds']} s in all"
        )
    print(f"slot table version {table['version']}, {table['slots']} slots:")
    for shard_id, shard in table["shards"].items():
        print(f"  shard {shard_id}: {shard['slots']} slots on node {shard['node']}")


def _analytics_rollups(args: argparse.Namespace) -> None:
    import asyncio

    from persistence.analytics_rollups import refresh_rollups

    report = asyncio.run(refresh_rollups(rebuild=args.rebuild))
    print(
        f"analytics rollups: {report.days} days recomputed ({report.changed} changed),"
        f" {report.batches} batches"
    )


def _bench(args: argparse.Namespace) -> None:
    import runpy

    sys.argv = [f"tests/bench/bench_{args.suite}.py", *args.rest]
    runpy.run_path(f"tests/bench/bench_{args.suite}.py", run_name="__main__")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="movehub", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    commands: dict[str, Callable[[argparse.Namespace], None]] = {}

    def add(
        name: str, handler: Callable[[argparse.Namespace], None], help_text: str
    ) -> argparse.ArgumentParser:
        commands[name] = handler
        return sub.add_parser(name, help=help_text)

    add("bootstrap", _bootstrap, "create roles, database, extensions; run migrations")
    serve = add("serve", _serve, "serve the API and websockets")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    add("seed", _seed, "load demo organizations, fleet and bookings")
    up = add("up", _up, "bootstrap, seed, serve and run the driver simulator")
    up.add_argument("--port", type=int, default=8000)
    up.add_argument("--drivers", type=int, default=40)
    sim = add("simulate", _simulate, "drive simulated drivers over real websockets")
    sim.add_argument("--url", default="http://127.0.0.1:8000", help="the gateway")
    sim.add_argument("--drivers", type=int, default=40, help="simulated drivers in all")
    sim.add_argument("--org", default=None, help="one organization code (default: every demo organization)")
    sim.add_argument("--duration", type=float, default=0, help="seconds; 0 runs until Ctrl-C")
    sim.add_argument("--rate", type=float, default=2.0, help="pings per second per driver")
    sim.add_argument(
        "--speedup",
        type=float,
        default=10.0,
        help="simulated seconds per real second (driving and dwell times)",
    )
    sim.add_argument(
        "--auto-assign",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="also play the dispatcher: auto-assign confirmed bookings every SECONDS (0: off)",
    )
    sim.add_argument("--seed", type=int, default=None, help="random seed for the routes")
    shards = add("shards", _shards, "show or scale the fleet shards of the cluster at RAY_ADDRESS")
    shards.add_argument(
        "action",
        choices=["show", "scale", "rebalance"],
        help="scale: run COUNT shards; rebalance: new shards on nodes that have none",
    )
    shards.add_argument("count", type=int, nargs="?", default=None)
    rollups = add(
        "analytics-rollups",
        _analytics_rollups,
        "refresh the analytics rollups (the scheduler does it every minute)",
    )
    rollups.add_argument(
        "--rebuild", action="store_true", help="recompute every closed day, not only changed ones"
    )
    bench = add("bench", _bench, "run a benchmark from tests/bench/")
    bench.add_argument("suite", choices=["dispatch", "realtime", "analytics", "rest"])
    bench.add_argument("rest", nargs=argparse.REMAINDER)
    parser.set_defaults(commands=commands)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.commands[args.command](args)


if __name__ == "__main__":
    main()
