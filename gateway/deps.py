"""Injected dependencies: the caller (Bearer or cookie + CSRF), role checks, the tenant session."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.auth.errors import RecordedRefusal
from dispatch.auth.revocation import revocations
from dispatch.auth.tokens import verify_access_claims
from dispatch.errors import Forbidden, Unauthorized
from persistence.config import Settings
from persistence.integrations.payments import PaymentsPort
from persistence.integrations.ports import Ports
from persistence.session import SYSTEM, Caller, tenant_session
from persistence.storage import StoragePort

ACCESS_COOKIE = "movehub_access"
REFRESH_COOKIE = "movehub_refresh"
CSRF_COOKIE = "movehub_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def check_csrf(request: Request) -> None:
    """Double-submit: a cookie-authenticated unsafe request must echo the CSRF cookie."""
    if request.method in SAFE_METHODS:
        return
    cookie = request.cookies.get(CSRF_COOKIE, "")
    header = request.headers.get(CSRF_HEADER, "")
    if not cookie or not header or not hmac.compare_digest(cookie, header):
        raise Forbidden(
            "CSRF token missing or wrong: send the movehub_csrf cookie value in the X-CSRF-Token header"
        )


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token:
        return token.strip()
    return None


async def current_caller(request: Request) -> Caller:
    token = bearer_token(request)
    if token is None:
        token = request.cookies.get(ACCESS_COOKIE)
        if token is None:
            raise Unauthorized("authentication required")
        check_csrf(request)
    settings = app_settings(request)
    claims = verify_access_claims(token, settings)
    # A deactivated user or a revoked sign-in: 401 within seconds.
    await revocations.check(claims, settings)
    request.state.caller = claims.caller
    return claims.caller


CurrentCaller = Annotated[Caller, Depends(current_caller)]


def require_role(*roles: str) -> Callable[[Caller], Coroutine[Any, Any, Caller]]:
    """A dependency admitting only the given roles (platform admins always pass)."""
    allowed = frozenset(roles) | {"platform_admin"}

    async def dependency(caller: CurrentCaller) -> Caller:
        if caller.role not in allowed:
            raise Forbidden(f"this action needs one of the roles: {', '.join(sorted(allowed))}")
        return caller

    return dependency


StaffCaller = Annotated[Caller, Depends(require_role("mover_admin", "dispatcher"))]
MoverAdmin = Annotated[Caller, Depends(require_role("mover_admin"))]
PlatformAdmin = Annotated[Caller, Depends(require_role())]
CustomerCaller = Annotated[Caller, Depends(require_role("customer"))]
DriverCaller = Annotated[Caller, Depends(require_role("driver"))]


async def tenant_db(caller: CurrentCaller) -> AsyncIterator[AsyncSession]:
    async with tenant_session(caller) as session:
        yield session


# scope="function": the transaction commits before the response is sent, so a failed commit
# is the caller's error response, never a 2xx for something that was not stored.
SessionDep = Annotated[AsyncSession, Depends(tenant_db, scope="function")]


async def system_db() -> AsyncIterator[AsyncSession]:
    """One transaction as the system caller, for sign-in before there is a caller.

    A RecordedRefusal (a spent code try, a revoked token family) still commits what the
    service wrote before refusing; any other exception rolls back.
    """
    refusal: RecordedRefusal | None = None
    async with tenant_session(SYSTEM) as session:
        try:
            yield session
        except RecordedRefusal as exc:
            refusal = exc
    if refusal is not None:
        raise refusal


# scope="function": commit before the response is sent, so a token we hand out is stored.
SystemSessionDep = Annotated[AsyncSession, Depends(system_db, scope="function")]


def app_settings(request: Request) -> Settings:
    """The settings `create_app` was given (never the process-global ones)."""
    settings: Settings = request.app.state.settings
    return settings


def app_ports(request: Request) -> Ports:
    """The integration ports the lifespan built once for this app."""
    ports: Ports = request.app.state.ports
    return ports


def app_payments(request: Request) -> PaymentsPort:
    return app_ports(request).payments


def app_storage(request: Request) -> StoragePort:
    return app_ports(request).storage


SettingsDep = Annotated[Settings, Depends(app_settings)]
PortsDep = Annotated[Ports, Depends(app_ports)]
PaymentsDep = Annotated[PaymentsPort, Depends(app_payments)]
StorageDep = Annotated[StoragePort, Depends(app_storage)]


def client_ip(request: Request) -> str:
    """The peer address (uvicorn resolves X-Forwarded-For from trusted proxies)."""
    return request.client.host if request.client else "unknown"
