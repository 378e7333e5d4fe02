"""Shared by every integration module: the migrated database, a client from its own address
and the session app served over real sockets (asked for by name, never imported)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.factories import ip_client
from tests.integration.realtime_server import ws_base

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
