"""Liveness, readiness and the correlation id on every response."""

import httpx


async def test_healthz_and_correlation_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Correlation-Id": "abc-123"})
    assert response.status_code == 200
    assert response.headers["x-correlation-id"] == "abc-123"


async def test_readyz_checks_database_redis_and_ray(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    assert set(response.json()["checks"]) == {"database", "redis", "ray"}


async def test_unknown_path_is_problem_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
