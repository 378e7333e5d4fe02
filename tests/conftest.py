"""Test session: a fresh PostgreSQL database, real Redis, one local Ray, the ASGI app.

The database name comes from MOVEHUB_TEST_DB (default movehub_test) so parallel runs can
keep apart. Tests isolate by creating their own organizations and users (unique codes), so
the suite runs in any order.
"""

from __future__ import annotations

import os

TEST_DB = os.environ.get("MOVEHUB_TEST_DB", "movehub_test")
os.environ.update(
    {
        "MOVEHUB_DATABASE_URL": f"postgresql+asyncpg://movehub_app:movehub_app@127.0.0.1:5432/{TEST_DB}",
        "MOVEHUB_OWNER_DATABASE_URL": (
            f"postgresql+asyncpg://movehub_owner:movehub_owner@127.0.0.1:5432/{TEST_DB}"
        ),
        "MOVEHUB_REDIS_URL": os.environ.get("MOVEHUB_TEST_REDIS", "redis://127.0.0.1:6379/15"),
        "MOVEHUB_LOG_LEVEL": "WARNING",
        "MOVEHUB_ENVIRONMENT": "test",  # shipped dev secrets tolerated, without the warning
        "MOVEHUB_FLEET_SHARDS": "2",
        "MOVEHUB_BACKGROUND_WORKERS": "false",
        "MOVEHUB_COOKIE_SECURE": "false",
        "MOVEHUB_STORAGE_DIR": f"/tmp/movehub-test-storage-{TEST_DB}",
        # The suite runs under `uv run`: Ray would then give its workers a runtime env of
        # their own (the checkout packed into the session, a virtualenv built there, every
        # worker started through uv), at every Ray start, ours and the gateway processes'.
        # The workers get this process's interpreter and its editable install instead.
        "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0",
        # The suite is one client at one address: API budgets it cannot reach (the limits
        # themselves are tested with low ones, tests/integration/test_rate_limits.py).
        **{
            f"MOVEHUB_RATE_LIMIT_{kind}{per}": "100000/minute"
            for kind in ("AUTH", "QUOTE", "UPLOAD", "READ", "WRITE")
            for per in ("", "_IP")
        },
    }
)

from collections.abc import AsyncIterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402
import pytest  # noqa: E402
from fastapi import FastAPI  # noqa: E402

from persistence.bootstrap import migrate, recreate_database  # noqa: E402
from persistence.config import get_settings  # noqa: E402


def _random_order_seed(config: pytest.Config) -> int | None:
    """The pytest-randomly seed of this run, or None when the tests run in file order."""
    if not config.pluginmanager.has_plugin("randomly"):
        return None
    seed = config.getoption("randomly_seed", default=None)
    return seed if isinstance(seed, int) else None


def pytest_sessionstart(session: pytest.Session) -> None:
    # pytest-randomly's own header line is hidden by -q: say the seed at the start in any case.
    seed = _random_order_seed(session.config)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if seed is not None and reporter is not None:
        reporter.write_line(
            f"random order, seed {seed} (this order again: -p randomly "
            f"--randomly-seed={seed}; file order: -p no:randomly)"
        )


# Packages whose package-scoped fixtures are expensive (tests/e2e: a gateway process and
# Chromium): their modules run one after another, so those fixtures start once per session.
TOGETHER = (Path(__file__).parent / "e2e",)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """pytest-randomly shuffles modules across packages (its hook wraps this one and runs
    first), and a package-scoped fixture is torn down whenever a test of another package
    comes between two of its package's: the e2e gateway used to start once per stretch of
    e2e modules. Each TOGETHER package's tests move, in their shuffled order, to where the
    first of them landed; the order stays reproducible from the seed."""
    for package in TOGETHER:
        inside = [item for item in items if package in item.path.parents]
        if not inside:
            continue
        first = items.index(inside[0])
        outside = [item for item in items if package not in item.path.parents]
        items[:] = outside[:first] + inside + outside[first:]


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    seed = _random_order_seed(config)
    if seed is not None and exitstatus != 0:
        terminalreporter.write_line(f"this order again: -p randomly --randomly-seed={seed}")


@pytest.fixture(scope="session")
def database() -> str:
    recreate_database(TEST_DB)
    migrate()
    return TEST_DB


@pytest.fixture(scope="session")
async def app(database: str) -> AsyncIterator[FastAPI]:
    from gateway.app import create_app

    application = create_app(get_settings())
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
