"""JWT access tokens: issued with a pinned algorithm, verified for exp, iss, aud and shape."""

from __future__ import annotations

import time
import uuid
from typing import Any, cast

import jwt

from dispatch.errors import Unauthorized
from persistence.config import Settings, get_settings
from persistence.session import Caller, Role

_ROLES = {"customer", "driver", "mover_admin", "dispatcher", "platform_admin"}


def issue_access_token(caller: Caller, settings: Settings | None = None,
                       now: float | None = None) -> str:
    settings = settings or get_settings()
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "sub": str(caller.user_id),
        "role": caller.role,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": issued,
        "exp": issued + settings.access_token_ttl_s,
        "jti": uuid.uuid4().hex,
    }
    if caller.org_id:
        claims["org"] = str(caller.org_id)
    if caller.driver_id:
        claims["drv"] = str(caller.driver_id)
    return jwt.encode(claims, settings.jwt_secret, algorithm=settings.jwt_algorithm)


def _uuid_claim(claims: dict[str, Any], key: str) -> uuid.UUID | None:
    value = claims.get(key)
    if value is None:
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise Unauthorized(f"token claim '{key}' is malformed") from exc


def verify_access_token(token: str, settings: Settings | None = None) -> Caller:
    """Decode and check a token; any defect is Unauthorized (never a 500)."""
    settings = settings or get_settings()
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=[settings.jwt_algorithm],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("access token expired") from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized("access token invalid") from exc
    role = claims.get("role")
    if role not in _ROLES:
        raise Unauthorized("token role unknown")
    return Caller(
        role=cast(Role, role),
        user_id=_uuid_claim(claims, "sub"),
        org_id=_uuid_claim(claims, "org"),
        driver_id=_uuid_claim(claims, "drv"),
    )
