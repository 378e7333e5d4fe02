"""`movehub up`: seed demo data, serve the API (with local Ray) and, once it is ready, drive
the simulated fleet; prints where to look. Ctrl-C stops everything."""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time
import urllib.error
import urllib.request

from rich.console import Console

from gateway.seed import run_seed

READY_TIMEOUT_S = 90.0


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


def run_up(args: argparse.Namespace) -> None:
    console = Console()
    run_seed(args)
    base_url = f"http://127.0.0.1:{args.port}"
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "gateway.cli", "serve", "--port", str(args.port)])
    simulator: subprocess.Popen[bytes] | None = None
    try:
        started = time.monotonic()
        _wait_ready(base_url, server, console)
        console.print(f"[bold green]ready[/] in {time.monotonic() - started:.1f} s")
        console.print(f"  API docs     {base_url}/docs")
        console.print(f"  readiness    {base_url}/readyz")
        if importlib.util.find_spec("gateway.simulator") is not None:
            simulator = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "gateway.cli", "simulate", "--url", base_url,
                 "--drivers", str(args.drivers)])
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
