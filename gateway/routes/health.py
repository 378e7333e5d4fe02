"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from persistence.redis import get_redis
from persistence.session import engine

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


async def _check_database() -> None:
    async with engine().connect() as connection:
        await connection.execute(text("SELECT 1"))


async def _check_redis() -> None:
    redis = get_redis()
    if redis is not None:
        await redis.ping()


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Readiness: database, Redis and (when configured) the Ray fleet answer within 2 s each."""
    checks: dict[str, Any] = {"database": _check_database(), "redis": _check_redis()}
    fleet = getattr(request.app.state, "fleet", None)
    if fleet is not None:
        checks["ray"] = fleet.ping()
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check, timeout=2.0)
            results[name] = "ok"
        except Exception as exc:
            results[name] = f"failed: {type(exc).__name__}"
    ready = all(value == "ok" for value in results.values())
    return JSONResponse({"status": "ready" if ready else "not ready", "checks": results},
                        status_code=200 if ready else 503)

# GET /metrics lives in gateway/metrics.py (closed to the public).
