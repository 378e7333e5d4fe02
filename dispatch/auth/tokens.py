"""JWT access tokens: issued with a pinned algorithm, verified for exp, iss, aud and shape.

Besides who the caller is, a token names the user's token version (`ver`) and the sign-in
it belongs to (`sid`, the refresh family): dispatch/auth/revocation.py refuses a token whose
version was bumped or whose sign-in was revoked, long before `exp`.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any, cast

import jwt

from dispatch.errors import Unauthorized
from persistence.config import Settings
from persistence.session import Caller, Role

_ROLES = {"customer", "driver", "mover_admin", "dispatcher", "platform_admin"}


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """A verified token: the caller, plus what decides whether its session still lives."""

    caller: Caller
    version: int = 0  # tokens from before versions existed count as version 0
    session_id: uuid.UUID | None = None  # the refresh family; None for tokens minted directly


def issue_access_token(
    caller: Caller,
    settings: Settings,
    now: float | None = None,
    *,
    version: int = 0,
    session_id: uuid.UUID | None = None,
) -> str:
    """A signed access token for the caller, valid for `access_token_ttl_s` from `now`."""
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "sub": str(caller.user_id),
        "role": caller.role,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": issued,
        "exp": issued + settings.access_token_ttl_s,
        "jti": uuid.uuid4().hex,
        "ver": version,
    }
    if session_id:
        claims["sid"] = str(session_id)
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


def verify_access_token(token: str, settings: Settings) -> Caller:
    """Decode and check a token; any defect is Unauthorized (never a 500)."""
    return verify_access_claims(token, settings).caller


def _version_claim(claims: dict[str, Any]) -> int:
    value = claims.get("ver", 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise Unauthorized("token claim 'ver' is malformed")
    return value


def verify_access_claims(token: str, settings: Settings) -> AccessClaims:
    """The caller and session claims of a signed, unexpired token (liveness not checked)."""
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
    caller = Caller(
        role=cast(Role, role),
        user_id=_uuid_claim(claims, "sub"),
        org_id=_uuid_claim(claims, "org"),
        driver_id=_uuid_claim(claims, "drv"),
    )
    return AccessClaims(caller, _version_claim(claims), _uuid_claim(claims, "sid"))
