"""Every error leaves as application/problem+json; domain errors are mapped here, once."""

from __future__ import annotations

import errno
from typing import Any

import asyncpg
import redis.exceptions
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from dispatch.errors import DomainError

log = structlog.get_logger(__name__)
PROBLEM = "application/problem+json"


def problem(
    status: int, title: str, detail: str, request: Request | None = None, /, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if request is not None:
        body["instance"] = request.url.path
        correlation_id = getattr(request.state, "correlation_id", None)
        if correlation_id:
            body["correlation_id"] = correlation_id
    for key, value in extra.items():  # extension members never replace the standard ones
        body.setdefault(key, value)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status in (429, 503) and "retry_after" in extra:
        headers = {"Retry-After": str(extra["retry_after"])}
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or str(loc[-1] if loc else "request")


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": _field_name(tuple(e.get("loc", ()))), "message": e.get("msg", "invalid")}
        for e in exc.errors()
    ]
    names = ", ".join(sorted({e["field"] for e in errors}))
    return problem(422, "Validation failed", f"invalid input: {names}", request, errors=errors)


async def _domain(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return problem(exc.status, exc.title, exc.detail, request, **exc.extra)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    title = {
        404: "Not found",
        405: "Method not allowed",
        401: "Unauthorized",
        403: "Forbidden",
        413: "Payload too large",
    }.get(exc.status_code, "Error")
    answer = problem(exc.status_code, title, str(exc.detail), request)
    answer.headers.update(exc.headers or {})  # Starlette's own, such as a 405's Allow
    if exc.status_code == 405:
        answer.headers["Allow"] = _allowed_methods(request) or answer.headers.get("Allow", "")
    return answer


def _allowed_methods(request: Request) -> str:
    """Every method the path answers: Starlette's Allow names only the first route matching
    the path, and GET and PUT of one path are often two routes."""
    path = request.url.path
    methods = {
        method
        for route in iter_route_contexts(request.app.routes)
        if (regex := getattr(route, "path_regex", None)) is not None and regex.match(path)
        for method in (route.methods or ())
    }
    return ", ".join(sorted(methods))


def _driver_error_attr(exc: Exception, name: str) -> str:
    """Read an attribute of the database driver's error, through SQLAlchemy's adapter."""
    orig = getattr(exc, "orig", None)
    for candidate in (orig, getattr(orig, "__cause__", None)):
        value = getattr(candidate, name, None)
        if value:
            return str(value)
    return ""


# Unreachable backing services (issue 10.5): connection-class SQLSTATEs (server gone, shutting
# down, starting up, out of connections), refused/reset sockets, connect and pool timeouts.
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")
_UNREACHABLE_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.ETIMEDOUT,
        errno.EPIPE,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ENETDOWN,
    }
)
_UNREACHABLE = (
    ConnectionError,
    TimeoutError,
    PoolTimeout,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


def _unreachable(exc: BaseException) -> bool:
    if isinstance(exc, _UNREACHABLE):
        return True
    if isinstance(exc, OSError) and exc.errno in _UNREACHABLE_ERRNOS:
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True  # SQLAlchemy recognised a disconnect
    if isinstance(exc, asyncpg.InterfaceError) and "connection is closed" in str(exc):
        return True
    return str(getattr(exc, "sqlstate", "") or "").startswith(_UNAVAILABLE_SQLSTATES)


def unavailable(exc: BaseException) -> bool:
    """Whether an error means PostgreSQL or Redis cannot be reached: the answer is 503 (a
    socket closes with 1013, "try again later"), not a bug's 500 (1011). Looks through
    SQLAlchemy's wrapper (`orig`) and the exception's causes."""
    seen: set[int] = set()
    pending: list[object] = [exc]
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if _unreachable(current):
            return True
        pending += [getattr(current, "orig", None), current.__cause__, current.__context__]
        if isinstance(current, BaseExceptionGroup):
            pending += current.exceptions
    return False


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    if not unavailable(exc):
        return await _unhandled(request, exc)
    log.warning("service_unavailable", error=type(exc).__name__, path=request.url.path)
    return problem(
        503,
        "Service unavailable",
        "a service this request needs cannot be reached right now; retry later",
        request,
        retry_after=request.app.state.settings.outage_retry_after_s,
    )


async def _integrity(request: Request, exc: Exception) -> JSONResponse:
    # A constraint the service did not pre-check: still the caller's conflict, not our 500.
    constraint = _driver_error_attr(exc, "constraint_name")
    log.info("integrity_conflict", constraint=constraint)
    return problem(
        409,
        "Conflict",
        f"conflicts with existing data ({constraint or 'constraint'})",
        request,
        constraint=constraint,
    )


async def _dbapi(request: Request, exc: Exception) -> JSONResponse:
    if unavailable(exc):
        return await _unavailable(request, exc)
    sqlstate = _driver_error_attr(exc, "sqlstate")
    if str(sqlstate).startswith("22"):  # data exceptions: out-of-range values and the like
        return problem(422, "Validation failed", "a value is out of range or malformed", request)
    if sqlstate in ("40001", "40P01"):  # serialization failure, deadlock: safe to retry
        return problem(409, "Conflict", "a concurrent change got in the way; retry", request)
    if sqlstate == "42501":  # row-level security refused the write: the row is not yours
        return problem(404, "Not found", "no such resource", request)
    log.exception("database_error", sqlstate=sqlstate)
    return problem(500, "Internal server error", "unexpected database error", request)


async def _stale(request: Request, exc: Exception) -> JSONResponse:
    # Optimistic concurrency: someone changed the row between our read and our write.
    return problem(409, "Conflict", "the resource was changed concurrently; reload and retry", request)


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    if unavailable(exc):  # e.g. raised by a middleware, outside the handlers below
        return await _unavailable(request, exc)
    log.exception("unhandled_error", error=type(exc).__name__)
    return problem(500, "Internal server error", "unexpected error", request)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(DomainError, _domain)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(IntegrityError, _integrity)
    app.add_exception_handler(DBAPIError, _dbapi)
    app.add_exception_handler(StaleDataError, _stale)
    for unreachable in (
        OSError,
        PoolTimeout,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        redis.exceptions.RedisError,
    ):
        app.add_exception_handler(unreachable, _unavailable)  # 503 when an outage, else 500
    app.add_exception_handler(Exception, _unhandled)
