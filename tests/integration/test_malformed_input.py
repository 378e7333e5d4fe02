"""Every endpoint of the OpenAPI schema answers malformed input with a 4xx problem+json and
writes nothing: broken JSON, wrong JSON types, non-UUID path ids, junk query values."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from persistence.session import SYSTEM, tenant_session
from tests.factories import auth_headers, make_org, make_user

BODY_METHODS = {"post", "put", "patch"}
MALFORMED_BODIES: list[tuple[str, Any]] = [
    ("broken json", b"{not json"),
    ("wrong type", b"[1, 2, 3]"),
    ("wrong field types", b'{"lat": "north", "lon": [], "start": 5, "volume_m3": "big"}'),
]


async def _row_counts() -> dict[str, int]:
    async with tenant_session(SYSTEM) as session:
        tables = (
            (
                await session.execute(
                    text(
                        # Partitioned tables counted through their parent (the app role may not read a
                        # partition directly: see migration 0011).
                        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                        " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
                        " AND c.relname NOT IN ('spatial_ref_sys', 'alembic_version')"
                        # Written only by the live loop's position writer, which flushes other tests'
                        # socket pings in the background: no REST request writes them (seed 913794279
                        # caught a batch landing mid-test).
                        " AND c.relname NOT IN ('driver_positions', 'driver_breadcrumbs')"
                    )
                )
            )
            .scalars()
            .all()
        )
        counts = {}
        for table in tables:
            counts[table] = (await session.execute(text(f'SELECT count(*) FROM "{table}"'))).scalar_one()
        return counts


def _operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    operations = []
    for path, item in app.openapi()["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                operations.append((method, path, operation))
    return operations


def _fill_path(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "not-a-valid-id", path)


def _assert_client_error(response: httpx.Response, what: str) -> None:
    assert 400 <= response.status_code < 500, f"{what}: {response.status_code} {response.text}"
    assert response.headers["content-type"].startswith("application/problem+json"), what


@pytest.fixture
async def callers() -> dict[str, dict[str, str]]:
    org = await make_org()
    return {
        "customer": auth_headers(await make_user("customer")),
        "staff": auth_headers(await make_user("mover_admin", org)),
        "admin": auth_headers(await make_user("platform_admin")),
    }


async def test_every_endpoint_rejects_malformed_input(
    app: FastAPI, client: httpx.AsyncClient, callers: dict[str, dict[str, str]]
) -> None:
    before = await _row_counts()
    checked = 0
    for method, path, operation in _operations(app):
        if not path.startswith("/api/v1") or path.endswith("/webhook"):
            continue
        has_path_params = "{" in path
        has_body = method in BODY_METHODS and "requestBody" in operation
        for role, headers in callers.items():
            if has_path_params:
                response = await client.request(
                    method, _fill_path(path), headers=headers, content=b"{}", params={}
                )
                _assert_client_error(response, f"{role} {method} {path} bad id")
                checked += 1
            if has_body:
                for label, body in MALFORMED_BODIES:
                    response = await client.request(
                        method,
                        _fill_path(path) if has_path_params else path,
                        headers={**headers, "content-type": "application/json"},
                        content=body,
                    )
                    _assert_client_error(response, f"{role} {method} {path} {label}")
                    checked += 1
            queries = [p for p in operation.get("parameters", []) if p["in"] == "query"]
            if queries and not has_path_params:
                junk = {p["name"]: "\x00junk" for p in queries}
                response = await client.request(method, path, headers=headers, params=junk)
                assert response.status_code < 500, f"{role} {method} {path} junk query"
                checked += 1
    assert checked > 50
    assert await _row_counts() == before


async def test_unauthenticated_calls_are_401(app: FastAPI, client: httpx.AsyncClient) -> None:
    public = {
        "/api/v1/auth/otp/request",
        "/api/v1/auth/otp/verify",
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",  # logging out without a session is a harmless no-op
        "/api/v1/lifecycle",
    }  # the status vocabulary: public words, no rows
    for method, path, _ in _operations(app):
        if not path.startswith("/api/v1") or path in public or path.endswith("/webhook"):
            continue
        response = await client.request(method, _fill_path(path))
        assert response.status_code in (401, 422), f"{method} {path}: {response.status_code}"
        _assert_client_error(response, f"{method} {path}")
