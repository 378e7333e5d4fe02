"""What both sockets share: reading frames under the per-connection limits (size, rate, idle
timeout), closing with a code and a reason, and sending with a timeout."""

from __future__ import annotations

import asyncio
import contextlib
import time

from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from persistence.config import Settings

MAX_INVALID = 20  # frames failing validation before the socket is closed with 4400
# A socket that cannot go on because PostgreSQL or Redis is unreachable (gateway.errors.unavailable).
TRY_LATER = (1013, "a service is unavailable: try again later")


class Closing(Exception):
    """Close the socket with this code and reason (docs/realtime-protocol.md)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


class Inbox:
    """Client frames, one at a time; None when the client went away."""

    def __init__(self, websocket: WebSocket, settings: Settings) -> None:
        self.websocket = websocket
        self.max_bytes = settings.ws_max_message_bytes
        self.idle_s = settings.ws_idle_timeout_s
        self.rate = settings.ws_max_msgs_per_s
        self.burst = max(2.0, 2 * self.rate)  # two seconds' worth: jitter is not abuse
        self.tokens = self.burst
        self.refilled = time.monotonic()
        self.invalid = 0

    def _take_token(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.refilled) * self.rate)
        self.refilled = now
        if self.tokens < 1:
            raise Closing(4429, f"rate limit exceeded ({self.rate:g} messages/s)")
        self.tokens -= 1

    async def next(self) -> str | None:
        try:
            # asyncio.timeout, not wait_for: no extra task per frame at thousands of pings/s.
            async with asyncio.timeout(self.idle_s):
                message = await self.websocket.receive()
        except TimeoutError as exc:
            raise Closing(4408, f"heartbeat timeout: nothing received for {self.idle_s:g} s"
                          ) from exc
        if message["type"] == "websocket.disconnect":
            return None
        text: str | None = message.get("text")
        if text is None:
            raise Closing(1003, "binary frames are not accepted; send JSON text")
        if len(text) * 4 > self.max_bytes and len(text.encode()) > self.max_bytes:
            raise Closing(1009, f"message too big (limit {self.max_bytes} bytes)")
        self._take_token()
        return text

    def count_invalid(self) -> None:
        self.invalid += 1
        if self.invalid > MAX_INVALID:
            raise Closing(4400, "too many invalid messages")


def gone(websocket: WebSocket, exc: BaseException) -> bool:
    """The client went away mid-send: not an error worth a stack trace."""
    return (isinstance(exc, WebSocketDisconnect | OSError)
            or type(exc).__name__ == "ClientDisconnected"
            or websocket.client_state == WebSocketState.DISCONNECTED
            or websocket.application_state == WebSocketState.DISCONNECTED)


async def close(websocket: WebSocket, code: int, reason: str) -> None:
    """Close once, quietly (the client may be gone already)."""
    if websocket.application_state == WebSocketState.DISCONNECTED:
        return
    with contextlib.suppress(Exception):
        await websocket.close(code, reason[:120])


async def refuse(websocket: WebSocket, code: int, reason: str) -> None:
    """Accept, then close with the code: browsers never see an HTTP refusal's reason."""
    with contextlib.suppress(Exception):
        await websocket.accept()
    await close(websocket, code, reason)


async def send_text(websocket: WebSocket, text: str, timeout_s: float) -> None:
    try:
        async with asyncio.timeout(timeout_s):
            await websocket.send_text(text)
    except TimeoutError as exc:
        raise Closing(1013, "slow consumer: reconnect with since") from exc
