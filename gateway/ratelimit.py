"""API rate limits, declared once for every REST route: a budget per route class, counted per
signed-in user and, separately, per client IP, shared by the replicas through Redis.

Route classes: `auth` (sign-in and tokens), `quote` (prices and marketplace offers, which cost
a query over every organization or a call to every fleet shard), `upload`, `read` (GET/HEAD)
and `write` (the rest). Each budget is `limits` notation from the settings; "20/second;600/minute"
is a burst allowance of 20 requests in any one second within 600 a minute. A request over
either budget is answered 429 problem+json with Retry-After. Websockets keep their own
per-connection limits (docs/realtime-protocol.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import jwt
from fastapi import Depends, FastAPI, Request
from limits import RateLimitItem, parse_many

from dispatch.auth.credentials import secret_digest
from dispatch.errors import RateLimited
from gateway.deps import ACCESS_COOKIE, bearer_token, client_ip
from persistence.config import Settings
from persistence.ratelimit import LimitsRateLimiter, RateLimiter, build_rate_limiter

ROUTE_CLASSES = ("auth", "quote", "upload", "read", "write")
QUOTE_PATHS = frozenset({"/api/v1/bookings/quote", "/api/v1/marketplace/offers"})
UPLOAD_PATHS = frozenset({"/api/v1/documents", "/api/v1/documents/uploads", "/storage/upload"})
# Stripe signs every webhook and retries on its own schedule; refusing one only delays money.
EXEMPT_PATHS = frozenset({"/api/v1/payments/stripe/webhook"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOO_MANY: dict[int | str, dict[str, Any]] = {
    429: {"description": "rate limited (problem+json, Retry-After header)"}
}


@dataclass(frozen=True, slots=True)
class Budget:
    user: list[RateLimitItem]
    ip: list[RateLimitItem]


def _parse(settings: Settings, field: str) -> list[RateLimitItem]:
    value: str = getattr(settings, field)
    try:
        return parse_many(value)
    except ValueError as exc:
        raise ValueError(
            f"MOVEHUB_{field.upper()}={value!r} is not a rate limit in `limits` "
            "notation (e.g. '20/second;600/minute')"
        ) from exc


def budgets(settings: Settings) -> dict[str, Budget]:
    """Every route class's budget; a malformed setting fails here, at start, by name."""
    return {
        kind: Budget(_parse(settings, f"rate_limit_{kind}"), _parse(settings, f"rate_limit_{kind}_ip"))
        for kind in ROUTE_CLASSES
    }


def route_class(method: str, path: str) -> str | None:
    """The budget a request counts against (by its path: no class needs a path parameter);
    None for exempt routes."""
    if path in EXEMPT_PATHS:
        return None
    if path.startswith("/api/v1/auth/"):
        return "auth"
    if path in QUOTE_PATHS:
        return "quote"
    if method == "POST" and path in UPLOAD_PATHS:
        return "upload"
    return "read" if method in READ_METHODS else "write"


def token_subject(request: Request, settings: Settings) -> str | None:
    """The access token's subject if its signature and expiry check out, else None.

    One HMAC check with the JWT library and no other lookup (revocation stays with the
    caller dependency): a forged or expired token counts against its IP only.
    """
    token = bearer_token(request) or request.cookies.get(ACCESS_COOKIE)
    if not token:
        return None
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=[settings.jwt_algorithm],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "sub"]},
        )
    except jwt.PyJWTError:
        return None
    return str(claims["sub"])


@dataclass(slots=True)
class _AppLimits:
    settings: Settings
    budgets: dict[str, Budget]
    limiter: LimitsRateLimiter


def _storage_of(settings: Settings) -> tuple[str, float, float]:
    return (settings.redis_url, settings.rate_limit_redis_timeout_s, settings.rate_limit_redis_retry_s)


def app_limits(app: FastAPI) -> _AppLimits:
    """The app's limiter and budgets, rebuilt when app.state.settings is replaced (tests)."""
    settings: Settings = app.state.settings
    current: _AppLimits | None = getattr(app.state, "rate_limits", None)
    if current is None or current.settings is not settings:
        limiter = (
            current.limiter
            if current is not None and _storage_of(current.settings) == _storage_of(settings)
            else build_rate_limiter(settings)
        )
        current = _AppLimits(settings, budgets(settings), limiter)
        app.state.rate_limits = current
    return current


async def close_limits(app: FastAPI) -> None:
    current: _AppLimits | None = getattr(app.state, "rate_limits", None)
    if current is not None:
        await current.limiter.close()
        app.state.rate_limits = None


def _refuse(kind: str, whom: str, wait_s: int) -> RateLimited:
    return RateLimited(
        f"too many {kind} requests from this {whom}; retry in {wait_s} s",
        retry_after=wait_s,
        route_class=kind,
    )


async def rate_limit(request: Request) -> None:
    """The router-level dependency: count the request, or refuse it with 429."""
    limits = app_limits(request.app)
    settings = limits.settings
    if not settings.rate_limit_enabled:
        return
    kind = route_class(request.method, request.url.path)
    if kind is None:
        return
    budget = limits.budgets[kind]
    subject = token_subject(request, settings)
    if subject is not None:
        wait = await limits.limiter.acquire(budget.user, "api", kind, "user", subject)
        if wait:
            raise _refuse(kind, "user", wait)
    # Keyed digest: Redis never holds a client address in the clear.
    address = secret_digest(client_ip(request), settings.digest_secret)[:32]
    wait = await limits.limiter.acquire(budget.ip, "api", kind, "ip", address)
    if wait:
        raise _refuse(kind, "address", wait)


async def otp_limiter(request: Request) -> RateLimiter:
    """The app's limiter for the sign-in code budgets (dispatch/auth/otp.py)."""
    return app_limits(request.app).limiter


AppRateLimiter = Annotated[RateLimiter, Depends(otp_limiter)]
RATE_LIMITED = [Depends(rate_limit)]
