"""E2E fixtures: a real gateway process (uvicorn, the test database, joined to the session's
Ray) and Chromium, each started once for the package (tests/conftest.py keeps the package's
modules together in a random order).

The server runs in its own process, as in production: its asyncpg pool, Ray driver and event
loop stay apart from the test's own connections (the factories write through this process's
engine).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, async_playwright

from tests.gateway_process import ARTIFACTS, ROOT, free_port, running_gateway

__all__ = ["ARTIFACTS", "ROOT", "free_port"]
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="package")
def gateway_url(app: FastAPI) -> Iterator[str]:
    """A gateway serving the test database on a free port, joined to the session's Ray (the
    session app starts it) under a namespace of its own.

    Package scope: its outbox worker and scheduler must be gone before other packages'
    tests, which drive the outbox themselves.
    """
    # Background workers on, as in production: the outbox worker is what puts assignments
    # and status changes on the org event streams the sockets follow.
    env = {
        "MOVEHUB_LOG_LEVEL": "WARNING",
        "MOVEHUB_BACKGROUND_WORKERS": "true",
        "MOVEHUB_OUTBOX_POLL_INTERVAL_S": "0.2",
        # A breadcrumb for every ping of the driver app (one every 2 s): its test drives one
        # step per ping instead of holding each position for more than the default 5 s.
        "MOVEHUB_TRAIL_MIN_INTERVAL_S": "1",
    }
    with running_gateway(env, name="gateway", share_ray=True) as base_url:
        yield base_url


@pytest.fixture(scope="package")
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless (Playwright cannot download its own browsers here)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (scripts/setup.sh --test installs it)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()
