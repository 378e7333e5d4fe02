"""create_app(): routers, middleware and the lifespan that owns the pools, Redis and Ray."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from dispatch.auth.revocation import revocations
from gateway import errors, metrics, openapi, security
from gateway.observability import CorrelationMiddleware, configure_logging
from gateway.ratelimit import RATE_LIMITED, TOO_MANY, app_limits, close_limits
from gateway.routes import (
    analytics,
    assignment,
    auth,
    backoffice_pages,
    board,
    board_page,
    bookings,
    calendar,
    docs,
    documents,
    driver_page,
    drivers,
    health,
    invoices,
    lifecycle,
    marketplace,
    notifications,
    organizations,
    payments,
    ratings,
    refunds,
    storage,
    support,
    tracking,
    trails,
    trucks,
    users,
    verification,
)
from gateway.startup import refuse_unworkable
from persistence.config import Settings, get_settings
from persistence.integrations.ports import build_ports
from persistence.redis import close_redis
from persistence.session import dispose_engine, engine
from persistence.telemetry import instrument_app
from persistence.telemetry import setup as setup_tracing

log = structlog.get_logger()
SHUTDOWN_STEP_S = 5.0  # at most per part when the app stops (the whole drain is 10 s)

API_ROUTERS = [
    auth.router,
    organizations.router,
    drivers.router,
    trucks.router,
    bookings.router,
    lifecycle.router,
    assignment.router,
    marketplace.router,
    calendar.router,
    analytics.router,
    trails.router,
    payments.router,
    refunds.router,
    ratings.router,
    notifications.router,
    invoices.router,
    documents.router,
    verification.router,
    support.router,
    users.router,
]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    engine()
    app.state.fleet = None
    app.state.outbox = None  # its handle, for /readyz: the live loop depends on it
    workers: list[Any] = []
    if settings.ray_enabled:
        from actors.runtime import start_fleet

        app.state.fleet = await start_fleet(settings)
    if settings.background_workers:
        from actors.outbox import start_outbox_worker

        app.state.outbox = await start_outbox_worker(settings, app.state.ports)
        workers.append(app.state.outbox)
        if settings.ray_enabled:
            from actors.scheduler import start_scheduler

            workers.append(await start_scheduler(settings))
    from gateway.realtime.runtime import Realtime

    app.state.realtime = Realtime(settings, app.state.fleet)
    app.state.realtime.start()
    # Everything loaded so far (modules, pools, Ray) lives as long as the process: move it out
    # of the collector's view, and collect young objects less often. Thousands of sockets each
    # allocate per frame, and a full collection over all of it stalls every socket at once.
    gc.collect()
    gc.freeze()
    gc.set_threshold(settings.gc_gen0_threshold, 20, 20)
    try:
        yield
    finally:
        # Each part gets a bounded time to close, and one that fails or hangs (an actor another
        # replica stopped, a peer that does not answer) does not keep the others open.
        await _closing("realtime", app.state.realtime.close())
        for worker in workers:
            await _closing(type(worker).__name__, worker.close())
        if app.state.fleet is not None:
            await _closing("fleet", app.state.fleet.close())
        await _closing("rate limits", close_limits(app))
        await _closing("redis", close_redis())
        await _closing("database", dispose_engine())


async def _closing(part: str, closing: Awaitable[None], seconds: float = SHUTDOWN_STEP_S) -> None:
    try:
        await asyncio.wait_for(closing, seconds)
    except Exception as exc:  # TimeoutError included: shutdown goes on with the next part
        log.warning("shutdown_step_failed", part=part, error=repr(exc))


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    refuse_unworkable(settings)  # e.g. Ray without Redis: no event would reach a socket
    configure_logging()
    setup_tracing("gateway")  # OTEL_* unset: nothing installed, nothing instrumented
    security.check_settings(settings)  # refuses insecure secrets outside development/test
    app = FastAPI(
        title="MoveHub",
        version="0.1.0",
        description="Moving-company marketplace with real-time dispatch.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,  # /docs is gateway/routes/docs.py, under its own CSP
    )
    app.state.settings = settings
    app.state.ports = build_ports(settings)  # payments, storage, email, SMS: built once
    revocations.configure(settings)  # sessions that end: announced after commit with these
    errors.install(app)
    security.install(app, settings)  # security headers on every answer, 500s included
    app.add_middleware(CorrelationMiddleware)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["*"],
        )
    app.include_router(health.router)
    app.include_router(metrics.router)  # /metrics: token or loopback-in-development only
    app.include_router(docs.router)
    app_limits(app)  # rate limits per route class, user and IP; bad notation fails here
    for router in API_ROUTERS:
        app.include_router(router, prefix="/api/v1", dependencies=RATE_LIMITED)
    # signed local upload/download URLs (limited too: declared here, outside /api/)
    app.include_router(storage.router, dependencies=RATE_LIMITED, responses=TOO_MANY)
    app.include_router(board.router)  # /ws/driver and /ws/board
    app.include_router(board_page.router)  # the fleet board page and its static assets
    app.include_router(tracking.router, dependencies=RATE_LIMITED)  # tracking API + page
    app.include_router(driver_page.router)  # the driver web app, its manifest and worker
    app.include_router(backoffice_pages.router)  # calendar, analytics, invoices, verification
    openapi.install(app)  # every operation's problem+json answers, once the routes exist
    instrument_app(app)  # a server span per request (outermost), when tracing is on
    return app
