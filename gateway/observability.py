"""Structured JSON logs with a correlation id per request, and Prometheus request metrics."""

from __future__ import annotations

import logging
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.typing import EventDict

from persistence.config import get_settings
from persistence.telemetry import trace_id

REQUESTS = Counter("movehub_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("movehub_http_request_seconds", "HTTP request latency", ["method", "route"])
CORRELATION_HEADER = "x-correlation-id"
_HEADER = CORRELATION_HEADER.encode()


_correlation: ContextVar[str | None] = ContextVar("movehub_correlation_id", default=None)


def add_correlation_id(_: Any, __: str, event: EventDict) -> EventDict:
    """The request's correlation id on every line logged while it is handled (one ContextVar
    read: structlog's merge_contextvars copies and walks the whole context per line); the
    trace id instead while a span is current (tracing on: persistence/telemetry.py)."""
    correlation_id = trace_id() or _correlation.get()
    if correlation_id is not None:
        event.setdefault("correlation_id", correlation_id)
    return event


def configure_logging() -> None:
    """JSON lines rendered by orjson straight to bytes (the access log is on every request:
    it must cost a few microseconds, not the stdlib json encoder's tens)."""
    settings = get_settings()
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer(serializer=orjson.dumps)
        if settings.log_json
        else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            add_correlation_id,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(settings.log_level.upper())),
        logger_factory=(
            structlog.BytesLoggerFactory() if settings.log_json else structlog.PrintLoggerFactory()
        ),
        cache_logger_on_first_use=True,
    )


class CorrelationMiddleware:
    """Pure ASGI middleware (cheap on websockets too): correlation id, access log, metrics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        settings = get_settings()
        # The access line skips structlog's processor chain (the same JSON fields, written
        # by orjson in one call): it is the only line logged on every request.
        self.access_log = (
            settings.log_json and logging.getLevelName(settings.log_level.upper()) <= logging.INFO
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers") or ():
            if name == _HEADER:
                incoming = value
                break
        # Tracing on: the request's trace id (the server span is already current here).
        correlation_id = trace_id() or _clean(incoming) or uuid.uuid4().hex
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        token = _correlation.set(correlation_id)
        started = time.perf_counter()
        status = 500

        async def send_with_header(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (_HEADER, correlation_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_header)
        finally:
            if scope["type"] == "http":
                elapsed = time.perf_counter() - started
                route = route_template(scope)
                method = scope["method"]
                _metrics(method, route, status).observe(elapsed)
                if self.access_log:
                    _access_line(method, scope["path"], status, elapsed, correlation_id)
            _correlation.reset(token)


def _access_line(method: str, path: str, status: int, elapsed: float, correlation_id: str) -> None:
    line = orjson.dumps(
        {
            "method": method,
            "path": path,
            "status": status,
            "ms": round(elapsed * 1000, 2),
            "event": "request",
            "correlation_id": correlation_id,
            "level": "info",
            "logger": "movehub.access",
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }
    )
    try:
        sys.stdout.buffer.write(line + b"\n")
        sys.stdout.buffer.flush()
    except (AttributeError, ValueError, OSError):  # no byte stdout (captured, closed)
        print(line.decode(), flush=True)


class _Children:
    """The labelled counter and histogram of one (method, route, status), looked up once:
    prometheus_client's labels() takes a lock and builds the key on every call."""

    __slots__ = ("count", "latency")

    def __init__(self, method: str, route: str, status: int) -> None:
        self.count = REQUESTS.labels(method, route, str(status))
        self.latency = LATENCY.labels(method, route)

    def observe(self, elapsed: float) -> None:
        self.count.inc()
        self.latency.observe(elapsed)


_children: dict[tuple[str, str, int], _Children] = {}


def route_template(scope: Scope) -> str:
    """The matched route's full path template (`/api/v1/bookings/{booking_id}`), never the raw
    path (its ids would make a series per booking), or "unmatched". FastAPI leaves the route of
    an included router in the scope without the include's prefix; the prefix is the part of the
    request's path before where the route's own pattern matches (prefixes have no parameters)."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if not isinstance(template, str):
        return "unmatched"
    pattern = getattr(route, "path_regex", None)
    path: str = scope.get("path", "")
    if pattern is None or pattern.match(path):
        return template
    start = path.find("/", 1)
    while start != -1:
        if pattern.match(path[start:]):
            return path[:start] + template
        start = path.find("/", start + 1)
    return template


def _metrics(method: str, route: str, status: int) -> _Children:
    key = (method, route, status)
    children = _children.get(key)
    if children is None:
        children = _children[key] = _Children(method, route, status)
    return children


def _clean(raw: bytes | None) -> str | None:
    if not raw:
        return None
    value = raw.decode("latin-1")[:64]
    return value if all(c.isalnum() or c in "-_." for c in value) else None
