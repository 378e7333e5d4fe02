"""API rate limits through apps built with low budgets: per user and per IP independently,
429 problem+json with Retry-After, route classes apart, shared by two apps over Redis, and
in-process when Redis is not configured or unreachable."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gateway.app import create_app
from gateway.ratelimit import close_limits, route_class
from persistence.config import get_settings
from tests.factories import auth_headers, make_user

# Hourly windows: the API's sliding window counters weigh the previous window in, so a test
# that straddled a window's end could see one request more; within an hour it never does.
LOW = {
    "rate_limit_read": "3/hour",
    "rate_limit_read_ip": "5/hour",
    "rate_limit_write": "2/hour",
    "rate_limit_write_ip": "100/hour",
    "rate_limit_auth": "100/hour",
    "rate_limit_auth_ip": "100/hour",
}
READ = "/api/v1/organizations"
WRITE = "/api/v1/support/tickets"  # an empty body: 422 after the limiter counted it


def _ip() -> str:
    """An address of this test alone: Redis keeps counts across apps and runs."""
    return f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"


@pytest.fixture
async def build(database: str) -> AsyncIterator[Callable[..., FastAPI]]:
    apps: list[FastAPI] = []

    def make(**overrides: Any) -> FastAPI:
        app = create_app(get_settings().model_copy(update={**LOW, **overrides}))
        apps.append(app)
        return app

    yield make
    for app in apps:
        await close_limits(app)


def _client(app: FastAPI, ip: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(ip, 40000)), base_url="http://testserver"
    )


async def _statuses(
    app: FastAPI,
    ip: str,
    n: int,
    path: str = READ,
    method: str = "GET",
    headers: dict[str, str] | None = None,
) -> list[int]:
    async with _client(app, ip) as http:
        return [
            (
                await http.request(method, path, headers=headers, json={} if method != "GET" else None)
            ).status_code
            for _ in range(n)
        ]


def _assert_too_many(response: httpx.Response, whom: str) -> None:
    assert response.status_code == 429
    assert response.headers["content-type"] == "application/problem+json"
    assert 1 <= int(response.headers["retry-after"]) <= 3600
    body = response.json()
    assert body["status"] == 429 and body["route_class"] == "read"
    assert whom in body["detail"] and body["retry_after"] == int(response.headers["retry-after"])


async def test_per_user_and_per_ip_budgets_trip_independently(build: Callable[..., FastAPI]) -> None:
    app = build()
    office, home = _ip(), _ip()
    first, second, third = [auth_headers(await make_user()) for _ in range(3)]
    async with _client(app, office) as http:
        assert [(await http.get(READ, headers=first)).status_code for _ in range(3)] == [200] * 3
        _assert_too_many(await http.get(READ, headers=first), "user")  # user budget: 3
        # The refused request did not spend the address's budget (5): two more users' worth.
        assert [(await http.get(READ, headers=second)).status_code for _ in range(2)] == [200] * 2
        _assert_too_many(await http.get(READ, headers=second), "address")
        _assert_too_many(await http.get(READ), "address")  # anonymous callers too
    async with _client(app, home) as http:
        assert (await http.get(READ, headers=third)).status_code == 200  # own user, own address
        _assert_too_many(await http.get(READ, headers=first), "user")  # the user, anywhere


async def test_a_forged_token_counts_against_its_address_only(build: Callable[..., FastAPI]) -> None:
    app, ip = build(), _ip()
    forged = {"Authorization": "Bearer not.a.token"}
    async with _client(app, ip) as http:
        assert [(await http.get(READ, headers=forged)).status_code for _ in range(5)] == [401] * 5
        _assert_too_many(await http.get(READ, headers=forged), "address")


async def test_route_classes_have_separate_budgets(build: Callable[..., FastAPI]) -> None:
    app, ip = build(), _ip()
    headers = auth_headers(await make_user())
    assert await _statuses(app, ip, 4, headers=headers) == [200, 200, 200, 429]
    assert await _statuses(app, ip, 3, WRITE, "POST", headers) == [422, 422, 429]
    assert await _statuses(app, ip, 1, "/api/v1/auth/me", headers=headers) == [200]


async def test_two_apps_share_the_budget_over_redis(build: Callable[..., FastAPI]) -> None:
    one, other, ip = build(), build(), _ip()
    assert one.state.rate_limits.limiter is not other.state.rate_limits.limiter
    assert await _statuses(one, ip, 3) == [401, 401, 401]  # anonymous: counted, then refused
    assert await _statuses(other, ip, 3) == [401, 401, 429]  # 5 per address across both


async def test_without_redis_each_app_counts_in_process(build: Callable[..., FastAPI]) -> None:
    # Without Redis only the one-process mode may start (no Ray: see gateway/startup.py).
    one, other = build(redis_url="", ray_enabled=False), build(redis_url="", ray_enabled=False)
    ip = _ip()
    assert one.state.rate_limits.limiter.redis is None
    assert await _statuses(one, ip, 6) == [401] * 5 + [429]
    assert await _statuses(other, ip, 5) == [401] * 5  # nothing shared between processes


async def test_an_unreachable_redis_keeps_the_api_and_its_limits(build: Callable[..., FastAPI]) -> None:
    app, ip = build(redis_url="redis://127.0.0.1:1/0", rate_limit_redis_timeout_s=0.2), _ip()
    assert await _statuses(app, ip, 6) == [401] * 5 + [429]
    assert not app.state.rate_limits.limiter.shared


async def test_disabled_limits_count_nothing(build: Callable[..., FastAPI]) -> None:
    app, ip = build(rate_limit_enabled=False), _ip()
    assert await _statuses(app, ip, 6) == [401] * 6


def test_malformed_budgets_fail_at_start_by_name() -> None:
    with pytest.raises(ValueError, match="MOVEHUB_RATE_LIMIT_WRITE"):
        create_app(get_settings().model_copy(update={"rate_limit_write": "lots"}))


def test_route_classes() -> None:
    assert route_class("POST", "/api/v1/auth/otp/request") == "auth"
    assert route_class("GET", "/api/v1/auth/me") == "auth"
    assert route_class("POST", "/api/v1/bookings/quote") == "quote"
    assert route_class("POST", "/api/v1/marketplace/offers") == "quote"
    assert route_class("POST", "/api/v1/documents/uploads") == "upload"
    assert route_class("POST", "/storage/upload") == "upload"
    assert route_class("GET", "/api/v1/documents") == "read"
    assert route_class("PATCH", "/api/v1/bookings/2b5e8a4c") == "write"
    assert route_class("POST", "/api/v1/payments/stripe/webhook") is None
