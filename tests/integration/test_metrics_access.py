"""GET /metrics: a bearer token when one is set; else loopback in development/test, 404 elsewhere."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from secrets import token_hex
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from persistence.config import get_settings

TOKEN = token_hex(32)
LOOPBACK = ("127.0.0.1", 40000)
REMOTE = ("203.0.113.9", 40000)
# What production must carry to start at all (see insecure_settings).
STRONG = {
    "jwt_secret": token_hex(32),
    "digest_secret": token_hex(32),
    "storage_signing_secret": token_hex(32),
    "stripe_webhook_secret": f"whsec_{token_hex(16)}",
    "database_url": f"postgresql+asyncpg://movehub_app:{token_hex(16)}@127.0.0.1/movehub",
    "owner_database_url": f"postgresql+asyncpg://movehub_owner:{token_hex(16)}@127.0.0.1/movehub",
}


@asynccontextmanager
async def scraper(client: tuple[str, int] = LOOPBACK, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app of its own (no lifespan: /metrics needs neither pools nor Ray)."""
    app = create_app(get_settings().model_copy(update=overrides))
    transport = httpx.ASGITransport(app=app, client=client)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def is_metrics(response: httpx.Response) -> bool:
    return (
        response.status_code == 200
        and response.headers["content-type"].startswith("text/plain")
        and "movehub_http_requests_total" in response.text
    )


async def absent(http: httpx.AsyncClient, response: httpx.Response) -> None:
    """The very 404 of a route that does not exist (the path gives nothing away)."""
    nowhere = await http.get("/nowhere-at-all")
    assert response.status_code == nowhere.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert {k: v for k, v in response.json().items() if k not in ("instance", "correlation_id")} == {
        k: v for k, v in nowhere.json().items() if k not in ("instance", "correlation_id")
    }


@pytest.mark.parametrize("environment", ["development", "test"])
async def test_without_a_token_loopback_reads_them_in_development(environment: str) -> None:
    async with scraper(environment=environment, metrics_token="") as http:
        assert is_metrics(await http.get("/metrics"))


async def test_without_a_token_a_remote_client_gets_404() -> None:
    async with scraper(REMOTE, environment="test", metrics_token="") as http:
        await absent(http, await http.get("/metrics"))


@pytest.mark.parametrize("client", [LOOPBACK, REMOTE])
async def test_without_a_token_production_answers_nobody(client: tuple[str, int]) -> None:
    async with scraper(client, environment="production", metrics_token="", **STRONG) as http:
        await absent(http, await http.get("/metrics"))


@pytest.mark.parametrize("environment", ["test", "production"])
@pytest.mark.parametrize("client", [LOOPBACK, REMOTE])
async def test_with_a_token_the_right_bearer_reads_them(environment: str, client: tuple[str, int]) -> None:
    async with scraper(client, environment=environment, metrics_token=TOKEN, **STRONG) as http:
        assert is_metrics(await http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}))
        assert is_metrics(await http.get("/metrics", headers={"authorization": f"bearer {TOKEN}"}))


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        f"Bearer {TOKEN[:-1]}",
        f"Bearer {TOKEN}x",
        f"Basic {TOKEN}",
        TOKEN,
        "Bearer ",
    ],
)
async def test_with_a_token_anything_else_is_401_even_from_loopback(authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    async with scraper(LOOPBACK, environment="development", metrics_token=TOKEN) as http:
        response = await http.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"
    assert TOKEN not in response.text


async def test_metrics_are_not_in_the_openapi_document() -> None:
    async with scraper(environment="test") as http:
        assert "/metrics" not in (await http.get("/openapi.json")).json()["paths"]
