"""Who is on the other end of a socket: Bearer header, the access cookie (allowed Origin
only) or `?token=`; refusals are close codes 4401/4403 (docs/realtime-protocol.md)."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from fastapi import WebSocket

from dispatch.auth.tokens import verify_access_token
from dispatch.errors import Unauthorized
from gateway.deps import ACCESS_COOKIE
from persistence.config import Settings
from persistence.session import Caller


class SocketRefused(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def allowed_origins(settings: Settings) -> set[str]:
    return {_origin(o) for o in [*settings.ws_allowed_origins, *settings.cors_origins,
                                 settings.public_base_url]}


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


def authenticate(websocket: WebSocket, settings: Settings) -> Caller:
    try:
        return verify_access_token(socket_token(websocket, settings), settings)
    except Unauthorized as exc:
        raise SocketRefused(4401, exc.detail) from exc


def driver_caller(websocket: WebSocket, settings: Settings) -> Caller:
    caller = authenticate(websocket, settings)
    if caller.role != "driver" or caller.driver_id is None or caller.org_id is None:
        raise SocketRefused(4403, "this socket is for drivers")
    return caller


def board_scope(websocket: WebSocket, settings: Settings) -> tuple[Caller, uuid.UUID]:
    """The caller and the organization whose board it watches."""
    caller = authenticate(websocket, settings)
    if caller.role in ("mover_admin", "dispatcher") and caller.org_id is not None:
        return caller, caller.org_id
    if caller.role == "platform_admin":
        try:
            return caller, uuid.UUID(websocket.query_params.get("org_id", ""))
        except ValueError as exc:
            raise SocketRefused(4400, "platform admins pass ?org_id=<uuid>") from exc
    raise SocketRefused(4403, "the board is for dispatchers and mover admins")
