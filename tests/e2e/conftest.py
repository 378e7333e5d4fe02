"""E2E fixtures: a real gateway process (uvicorn, local Ray, the test database) and Chromium.

The server runs in its own process, as in production: its asyncpg pool, Ray and event loop
stay apart from the test's own connections (the factories write through this process's
engine).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
READY_TIMEOUT_S = 150.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_ready(base_url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the gateway exited with {server.returncode}:\n"
                               f"{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{base_url}/readyz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the gateway was not ready in {READY_TIMEOUT_S:.0f} s:\n"
                       f"{log.read_text()[-4000:]}")


@pytest.fixture(scope="package")
def gateway_url(database: str) -> Iterator[str]:
    """A gateway serving the test database on a free port, with its own local Ray.

    Package scope: its outbox worker and scheduler must be gone before other packages'
    tests, which drive the outbox themselves.
    """
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / "gateway.log"
    # Background workers on, as in production: the outbox worker is what puts assignments
    # and status changes on the org event streams the sockets follow.
    env = {**os.environ, "MOVEHUB_PUBLIC_BASE_URL": base_url, "MOVEHUB_LOG_LEVEL": "WARNING",
           "MOVEHUB_BACKGROUND_WORKERS": "true", "MOVEHUB_OUTBOX_POLL_INTERVAL_S": "0.2"}
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "gateway.app:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(port), "--ws", "websockets-sansio",
             "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        _wait_ready(base_url, server, log)
        yield base_url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="package")
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless (Playwright cannot download its own browsers here)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (scripts/setup.sh --test installs it)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                    args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()
