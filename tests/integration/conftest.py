"""Shared by every integration module: the migrated database, a client from its own address
and the session app served over real sockets (asked for by name, never imported)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from persistence.bootstrap import drop_database, recreate_database
from persistence.config import get_settings
from tests.factories import ip_client
from tests.integration.realtime_server import ws_base
from tests.scratch import ScratchDatabase

__all__ = ["ws_base"]  # a fixture: registered here once, for every websocket module


@pytest.fixture(scope="session", autouse=True)
def migrated_database(database: str) -> str:
    """Every integration test runs on the freshly migrated test database, whichever module
    runs first or alone (a module that never asked for it used to pass only after another)."""
    return database


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The session's app from a random client address: per-IP limits never leak between tests."""
    async with ip_client(app) as client:
        yield client


@pytest.fixture
def scratch_database() -> Iterator[Callable[[str], ScratchDatabase]]:
    """Make `<test db>_<suffix>` afresh (no migrations run yet); dropped after the test."""
    settings = get_settings()
    made: list[str] = []

    def make(suffix: str) -> ScratchDatabase:
        name = f"{make_url(settings.database_url).database}_{suffix}"
        recreate_database(name, settings)
        made.append(name)
        owner = make_url(settings.owner_database_url).set(database=name)
        return ScratchDatabase(name, owner.render_as_string(hide_password=False))

    yield make
    for name in made:
        drop_database(name)
