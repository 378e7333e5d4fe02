"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from persistence.redis import get_redis
from persistence.repositories.health import round_trip
from persistence.session import engine

router = APIRouter(tags=["health"])

OK = "ok"
# Without Redis the event streams are a buffer in this process: ready, and saying so.
NO_REDIS = "not configured (in-process streams)"
CHECK_TIMEOUT_S = 2.0


class NotRunning(Exception):
    """A component answered but is not doing its work."""


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


async def _check_database() -> str:
    async with engine().connect() as connection:
        await round_trip(connection)
    return OK


async def _check_redis() -> str:
    redis = get_redis()
    if redis is None:
        return NO_REDIS
    await redis.ping()
    return OK


async def _fleet_ping(fleet: Any) -> str:
    await fleet.ping()
    return OK


async def _check_alive(component: Any) -> str:
    """A background worker's handle: the Ray actor answers and its loop runs, or the
    in-process task has not ended."""
    if not await component.alive():
        raise NotRunning("not running")
    return OK


async def _outcome(check: Awaitable[str]) -> str:
    try:
        return await asyncio.wait_for(check, timeout=CHECK_TIMEOUT_S)
    except NotRunning as exc:
        return f"failed: {exc}"
    except Exception as exc:
        return f"failed: {type(exc).__name__}"


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Readiness: the database, Redis (when configured), the Ray fleet (when on) and the
    outbox worker (when background workers are on) answer within 2 s each. The outbox
    worker is what puts assignments and status changes on the streams the sockets follow."""
    state = request.app.state
    checks: dict[str, Awaitable[str]] = {"database": _check_database(), "redis": _check_redis()}
    if getattr(state, "fleet", None) is not None:
        checks["ray"] = _fleet_ping(state.fleet)
    if getattr(state, "outbox", None) is not None:
        checks["outbox"] = _check_alive(state.outbox)
    names = list(checks)
    outcomes = await asyncio.gather(*(_outcome(checks[name]) for name in names))
    results = dict(zip(names, outcomes, strict=True))
    ready = all(value in (OK, NO_REDIS) for value in results.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": results}, status_code=200 if ready else 503
    )


# GET /metrics lives in gateway/metrics.py (closed to the public).
