"""`movehub up`: seed demo data, serve the API (with local Ray) and, once it is ready, drive
the simulated fleet; prints where to look. Ctrl-C stops everything."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from rich.console import Console

from gateway.seed import MOVERS, demo_board_token, run_seed
from gateway.startup import event_streams_problem
from persistence.config import get_settings
from persistence.session import dispose_engine

# A first start on a busy laptop (Ray building its worker environment, the shard and outbox
# actors' processes) took over 90 s here with other work running: wait long enough.
READY_TIMEOUT_S = 180.0
# The simulator also plays the dispatcher (confirm + auto-assign, the first pass at once)
# this often, so jobs flow.
AUTO_ASSIGN_EVERY_S = 20
# Simulated seconds per real second. A job is ~30 simulated minutes (two drives across town,
# loading, unloading): at 30x a new user sees the first ones completed within about a minute
# (at the simulator's default 10x, none had finished two minutes after start).
DEMO_SPEEDUP = 30


def _wait_ready(base_url: str, server: subprocess.Popen[bytes], console: Console) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    with console.status("starting the API, Ray and the fleet shards..."):
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise SystemExit(f"the server exited with code {server.returncode}")
            try:
                with urllib.request.urlopen(f"{base_url}/readyz", timeout=2) as answer:  # noqa: S310
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.5)
    raise SystemExit(f"the server was not ready within {READY_TIMEOUT_S:.0f} s")


def _board_link(base_url: str) -> str | None:
    async def mint() -> str | None:
        try:
            return await demo_board_token()
        finally:
            await dispose_engine()

    token = asyncio.run(mint())
    return f"{base_url}/board?token={token}" if token else None


def _driver_link(base_url: str, drivers: int) -> tuple[str, str] | None:
    """A one-click driver app link (development only) for a demo driver the simulator leaves
    alone (the seed makes a few more drivers than it drives), and who that is."""

    async def mint() -> tuple[str, str] | None:
        from dispatch.auth.tokens import issue_access_token
        from gateway.seed import DEMO_LINK_TTL_S
        from gateway.simulator.roster import load_drivers
        from persistence.session import Caller

        settings = get_settings()
        if settings.environment != "development":
            return None
        try:
            codes = [code for _, code, _, _ in MOVERS]
            driven = {d.id for d in await load_drivers(codes, drivers)}
            free = [d for d in await load_drivers(codes, 10_000) if d.id not in driven]
        finally:
            await dispose_engine()
        if not free:
            return None
        driver = free[0]
        token = issue_access_token(
            Caller(role="driver", user_id=driver.user_id, org_id=driver.area.org_id, driver_id=driver.id),
            settings.model_copy(update={"access_token_ttl_s": DEMO_LINK_TTL_S}),
        )
        return f"{base_url}/driver/?token={token}", f"{driver.name} ({driver.area.code})"

    return asyncio.run(mint())


def _print_urls(base_url: str, console: Console, drivers: int) -> None:
    code = MOVERS[0][1]
    link = _board_link(base_url)
    if link:
        console.print(f"  [bold]fleet board[/]  {link}", soft_wrap=True)
        console.print(
            f"               (signed in as the {MOVERS[0][0]} dispatcher for 12 h; open it in a browser)"
        )
    console.print(
        f"  board login  {base_url}/board  (one-time code for "
        f"dispatch@{code.lower()}.movehub.example, printed in this log)"
    )
    driver = _driver_link(base_url, drivers)
    if driver:
        console.print(f"  [bold]driver app[/]   {driver[0]}", soft_wrap=True)
        console.print(
            f"               (signed in as {driver[1]}, a driver the simulator leaves "
            "to you, for 12 h; its jobs come from the board or the auto-assigner)"
        )
    console.print(
        f"  driver login {base_url}/driver/  (one-time code for "
        f"driver1@{code.lower()}.movehub.example; the simulator drives that one too)"
    )
    console.print(f"  API docs     {base_url}/docs")
    console.print(f"  readiness    {base_url}/readyz")
    console.print(
        f"  simulator    {drivers} drivers on /ws/driver at {DEMO_SPEEDUP}x; bookings "
        f"confirmed and auto-assigned every {AUTO_ASSIGN_EVERY_S} s"
    )


def _stop_on_sigterm() -> None:
    """SIGTERM (a service manager, `kill`) stops the children like Ctrl-C does."""

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def run_up(args: argparse.Namespace) -> None:
    console = Console()
    problem = event_streams_problem(get_settings())
    if problem is not None:  # before seeding: the server would refuse it anyway
        raise SystemExit(f"movehub up: refusing to start: {problem}")
    _stop_on_sigterm()
    run_seed(args)
    base_url = f"http://127.0.0.1:{args.port}"
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "gateway.cli", "serve", "--port", str(args.port)]
    )
    simulator: subprocess.Popen[bytes] | None = None
    try:
        started = time.monotonic()
        _wait_ready(base_url, server, console)
        console.print(f"[bold green]ready[/] in {time.monotonic() - started:.1f} s")
        _print_urls(base_url, console, args.drivers)
        if importlib.util.find_spec("gateway.simulator") is not None:
            simulator = subprocess.Popen(  # noqa: S603
                [
                    sys.executable,
                    "-m",
                    "gateway.cli",
                    "simulate",
                    "--url",
                    base_url,
                    "--drivers",
                    str(args.drivers),
                    "--auto-assign",
                    str(AUTO_ASSIGN_EVERY_S),
                    "--speedup",
                    str(DEMO_SPEEDUP),
                ]
            )
        server.wait()
    except KeyboardInterrupt:
        console.print("stopping")
    finally:
        for process in (simulator, server):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
