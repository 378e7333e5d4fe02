"""Open sockets by the sign-in they belong to: when that session ends they close with 4410.

Sockets are registered by gateway/realtime/auth.py once their token is accepted. Endings
are announced by dispatch.auth.revocation (this process at once, other replicas over Redis
pub/sub); a sweep re-checks every socket each `ws_session_recheck_s` as the fallback when
Redis, and with it pub/sub, is down or a message was lost.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import orjson
import structlog
from fastapi import WebSocket
from starlette.websockets import WebSocketState

from dispatch.auth.revocation import CHANNEL, is_live, keys_of, revocations
from dispatch.auth.tokens import AccessClaims
from gateway.realtime.connection import close
from persistence.config import Settings
from persistence.redis import get_redis

log = structlog.get_logger("movehub.realtime.sessions")

SESSION_ENDED = 4410  # docs/realtime-protocol.md: final, sign in again
REASON = "session ended: account deactivated or sign-in revoked; sign in again"
RESUBSCRIBE_S = 1.0
SUBSCRIBE_TIMEOUT_S = 5.0


@dataclass(slots=True, eq=False)
class _Socket:
    websocket: WebSocket
    claims: AccessClaims
    keys: frozenset[str]


def _gone(websocket: WebSocket) -> bool:
    return (
        websocket.application_state == WebSocketState.DISCONNECTED
        or websocket.client_state == WebSocketState.DISCONNECTED
    )


class SocketSessions:
    """This replica's open sockets and the tasks that end them when their session ends."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sockets: dict[int, _Socket] = {}  # by id(websocket); the entry keeps it alive
        self._tasks: list[asyncio.Task[None]] = []

    def register(self, websocket: WebSocket, claims: AccessClaims) -> None:
        """Watch this socket (it is forgotten once it has closed)."""
        self.sockets[id(websocket)] = _Socket(websocket, claims, frozenset(keys_of(claims)))

    def start(self) -> None:
        revocations.listeners.append(self.on_revoked)
        self._tasks = [
            asyncio.create_task(self._sweep_forever()),
            asyncio.create_task(self._listen_forever()),
        ]

    async def close(self) -> None:
        with contextlib.suppress(ValueError):
            revocations.listeners.remove(self.on_revoked)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            # Cancelled again until it ends: a cancel can be lost inside redis-py's timed pub/sub
            # read (seen in the test session: the task stayed "cancelling" in get_message,
            # looping on, and the app's shutdown waited for it forever).
            while not task.done():
                await asyncio.wait({task}, timeout=1.0)
                task.cancel()
            with contextlib.suppress(BaseException):
                await task
        self._tasks = []

    def open_sockets(self) -> list[_Socket]:
        for key in [k for k, s in self.sockets.items() if _gone(s.websocket)]:
            del self.sockets[key]
        return list(self.sockets.values())

    async def on_revoked(self, keys: frozenset[str]) -> None:
        await self.recheck([s for s in self.open_sockets() if s.keys & keys])

    async def recheck(self, sockets: list[_Socket]) -> None:
        """Close those whose session ended (one state lookup for all of them)."""
        if not sockets:
            return
        keys = sorted(set().union(*(s.keys for s in sockets)))
        states = await revocations.states(keys, self.settings)
        for socket in sockets:
            if not is_live(socket.claims, states):
                await self._end(socket)

    async def _end(self, socket: _Socket) -> None:
        websocket = socket.websocket
        if websocket.application_state != WebSocketState.CONNECTED:
            return  # not accepted yet: the next sweep closes it
        self.sockets.pop(id(websocket), None)
        log.info(
            "session.socket_closed", user_id=str(socket.claims.caller.user_id), role=socket.claims.caller.role
        )
        await close(websocket, SESSION_ENDED, REASON)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.ws_session_recheck_s)
            try:
                await self.recheck(self.open_sockets())
            except Exception as exc:  # no state to be had (database down too): keep sockets
                log.warning("session.sweep_failed", error=repr(exc))

    async def _listen_forever(self) -> None:
        """Other replicas' announcements; reconnects after any Redis trouble."""
        while (redis := get_redis()) is not None:
            pubsub = redis.pubsub()
            try:
                async with asyncio.timeout(SUBSCRIBE_TIMEOUT_S):  # a blackholed Redis hangs
                    await pubsub.subscribe(CHANNEL)
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None:
                        await revocations.received(frozenset(orjson.loads(message["data"])))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("session.pubsub_lost", error=repr(exc))
                await asyncio.sleep(RESUBSCRIBE_S)
            finally:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(SUBSCRIBE_TIMEOUT_S):
                        await pubsub.aclose()  # type: ignore[no-untyped-call]
