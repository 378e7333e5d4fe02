"""Liveness, readiness and the correlation id on every response."""

import httpx

from persistence.config import get_settings


async def test_healthz_and_correlation_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Correlation-Id": "abc-123"})
    assert response.status_code == 200
    assert response.headers["x-correlation-id"] == "abc-123"


async def test_readyz_checks_database_redis_and_ray(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    expected = {"database", "redis"} | ({"ray"} if get_settings().ray_enabled else set())
    assert set(response.json()["checks"]) == expected


async def test_unknown_path_is_problem_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
