"""`movehub simulate`: demo drivers on real /ws/driver sockets, driving plausible routes inside
their organization's service area, taking assigned jobs through en_route -> arrived ->
loading -> in_transit -> unloading -> completed, with a live progress table and a summary.

The parts: `motion` (routes and positions), `session` (one driver's socket), `roster` (which
demo drivers, their tokens), `dispatcher` (--auto-assign); this module runs them and shows
progress. The options are defined with the other commands in gateway/cli.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import random
import signal
import time
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from gateway.seed import MOVERS
from gateway.simulator.dispatcher import auto_assign
from gateway.simulator.roster import load_drivers
from gateway.simulator.session import DriverSession, Stats
from persistence.config import get_settings
from persistence.session import dispose_engine


def progress_table(stats: Stats, rate: float, final: bool = False) -> Group:
    """The live table (pings/s over the last samples) or, when `final`, the summary."""
    elapsed = time.monotonic() - stats.started
    table = Table(title="movehub simulate" + (" - summary" if final else ""), show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    table.add_row("elapsed", f"{elapsed:.0f} s")
    table.add_row("drivers connected", f"{stats.connected}/{stats.drivers}")
    table.add_row("pings sent", f"{stats.pings:,}")
    table.add_row("pings/s", f"{stats.pings / max(elapsed, 1e-9):.1f} avg" if final else f"{rate:.1f}")
    table.add_row("jobs received", str(stats.jobs_received))
    table.add_row("jobs completed", str(stats.jobs_completed))
    table.add_row("status changes ok", str(stats.statuses_ok))
    table.add_row("auto-assigned", str(stats.auto_assigned))
    table.add_row("reconnects", str(stats.reconnects))
    table.add_row("errors", str(sum(stats.errors.values())))
    parts: list[Any] = [table]
    if stats.errors:
        errors = Table(title="errors", show_header=False)
        for name, count in stats.errors.most_common(6):
            errors.add_row(name, str(count))
        parts.append(errors)
    if stats.by_org:
        orgs = Table(title="pings per organization", show_header=False)
        for code, count in sorted(stats.by_org.items()):
            orgs.add_row(code, f"{count:,}")
        parts.append(orgs)
    return Group(*parts)


async def simulate(options: argparse.Namespace, stats: Stats, console: Console) -> None:
    """Drive the chosen demo drivers (and the dispatchers, with --auto-assign) until
    --duration ends, SIGTERM arrives or the task is cancelled."""
    codes = [options.org] if options.org else [code for _, code, _, _ in MOVERS]
    drivers = await load_drivers(codes, options.drivers)
    if not drivers:
        raise SystemExit(f"no drivers with accounts in {', '.join(codes)}: run `movehub seed`")
    stats.drivers = len(drivers)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError):
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    settings = get_settings()
    rng = random.Random(options.seed)
    tasks = [
        asyncio.create_task(DriverSession(driver, options, stats, rng, settings).run(stop))
        for driver in drivers
    ]
    if options.auto_assign > 0:
        tasks.append(asyncio.create_task(auto_assign(options, codes, stats, stop, settings)))
    console.print(f"driving {len(drivers)} drivers of {', '.join(codes)} against {options.url}")
    deadline = time.monotonic() + options.duration if options.duration > 0 else math.inf
    try:
        with Live(progress_table(stats, 0.0), console=console, refresh_per_second=2, transient=True) as live:
            while not stop.is_set() and time.monotonic() < deadline:
                live.update(progress_table(stats, stats.pings_per_s()))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.5)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(NotImplementedError):
            loop.remove_signal_handler(signal.SIGTERM)


def run_simulator(args: argparse.Namespace) -> None:
    """Entry point of `movehub simulate` (and of `movehub up`, in a child process)."""
    console = Console()
    stats = Stats()
    get_settings()  # fail early on a bad .env, before any socket opens

    async def main() -> None:
        try:
            await simulate(args, stats, console)
        finally:
            await dispose_engine()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    console.print(progress_table(stats, 0.0, final=True))


def main(argv: list[str] | None = None) -> None:
    """`python -m gateway.simulator ...`, the same as `movehub simulate ...` (options there)."""
    import sys

    from gateway.cli import main as movehub

    movehub(["simulate", *(sys.argv[1:] if argv is None else argv)])
