"""Structured JSON logs with a correlation id per request, and Prometheus request metrics."""

from __future__ import annotations

import logging
import time
import uuid

import structlog
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from persistence.config import get_settings

REQUESTS = Counter("movehub_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("movehub_http_request_seconds", "HTTP request latency", ["method", "route"])
CORRELATION_HEADER = "x-correlation-id"


def configure_logging() -> None:
    settings = get_settings()
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if settings.log_json
        else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelName(settings.log_level.upper())
        ),
        cache_logger_on_first_use=True,
    )


class CorrelationMiddleware:
    """Pure ASGI middleware (cheap on websockets too): correlation id, access log, metrics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.log = structlog.get_logger("movehub.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(CORRELATION_HEADER.encode())
        correlation_id = _clean(incoming) or uuid.uuid4().hex
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
        started = time.perf_counter()
        status = 500

        async def send_with_header(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((CORRELATION_HEADER.encode(), correlation_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_header)
        finally:
            if scope["type"] == "http":
                elapsed = time.perf_counter() - started
                route = getattr(scope.get("route"), "path", "unmatched")
                REQUESTS.labels(scope["method"], route, str(status)).inc()
                LATENCY.labels(scope["method"], route).observe(elapsed)
                self.log.info("request", method=scope["method"], path=scope["path"],
                              status=status, ms=round(elapsed * 1000, 2))
            structlog.contextvars.unbind_contextvars("correlation_id")


def _clean(raw: bytes | None) -> str | None:
    if not raw:
        return None
    value = raw.decode("latin-1")[:64]
    return value if all(c.isalnum() or c in "-_." for c in value) else None
