"""Who is on the other end of a socket: Bearer header, the access cookie (allowed Origin
only) or `?token=`; refusals are close codes 4401/4403/4410 (docs/realtime-protocol.md).

An accepted socket is registered with the replica's SocketSessions, which closes it with
4410 when its user is deactivated or its sign-in revoked.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from fastapi import WebSocket

from dispatch.auth.revocation import revocations
from dispatch.auth.tokens import verify_access_claims
from dispatch.errors import Unauthorized
from gateway.deps import ACCESS_COOKIE
from gateway.errors import unavailable
from gateway.realtime.connection import TRY_LATER
from persistence.config import Settings
from persistence.session import Caller

if TYPE_CHECKING:
    from gateway.realtime.runtime import Realtime


class SocketRefused(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def allowed_origins(settings: Settings) -> set[str]:
    return {
        _origin(o) for o in [*settings.ws_allowed_origins, *settings.cors_origins, settings.public_base_url]
    }


def socket_token(websocket: WebSocket, settings: Settings) -> str:
    header = websocket.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    if websocket.query_params.get("token"):
        return websocket.query_params["token"]
    cookie = websocket.cookies.get(ACCESS_COOKIE)
    if cookie:
        # A browser sends cookies with any page's socket: only our own pages may use them.
        origin = websocket.headers.get("origin", "")
        host_origin = f"{websocket.url.scheme.replace('ws', 'http')}://{websocket.url.netloc}"
        if origin and _origin(origin) in allowed_origins(settings) | {host_origin.lower()}:
            return cookie
        raise SocketRefused(4401, "cookie authentication needs an allowed Origin")
    raise SocketRefused(4401, "authentication required")


async def authenticate(websocket: WebSocket, realtime: Realtime) -> Caller:
    """A signed, unexpired token of a live session; the socket is then watched."""
    settings = realtime.settings
    try:
        claims = verify_access_claims(socket_token(websocket, settings), settings)
        await revocations.check(claims, settings)
    except Unauthorized as exc:
        code = 4410 if exc.extra.get("reason") == "session_revoked" else 4401
        raise SocketRefused(code, exc.detail) from exc
    except Exception as exc:  # neither Redis nor the database could say: try again later
        if not unavailable(exc):
            raise
        raise SocketRefused(*TRY_LATER) from exc
    realtime.sessions.register(websocket, claims)
    return claims.caller


async def driver_caller(websocket: WebSocket, realtime: Realtime) -> Caller:
    caller = await authenticate(websocket, realtime)
    if caller.role != "driver" or caller.driver_id is None or caller.org_id is None:
        raise SocketRefused(4403, "this socket is for drivers")
    return caller


async def board_scope(websocket: WebSocket, realtime: Realtime) -> tuple[Caller, uuid.UUID]:
    """The caller and the organization whose board it watches."""
    caller = await authenticate(websocket, realtime)
    if caller.role in ("mover_admin", "dispatcher") and caller.org_id is not None:
        return caller, caller.org_id
    if caller.role == "platform_admin":
        try:
            return caller, uuid.UUID(websocket.query_params.get("org_id", ""))
        except ValueError as exc:
            raise SocketRefused(4400, "platform admins pass ?org_id=<uuid>") from exc
    raise SocketRefused(4403, "the board is for dispatchers and mover admins")
