"""What both sockets share: reading frames under the per-connection limits (size, rate, idle
timeout), closing with a code and a reason, and sending with a timeout."""

from __future__ import annotations

import asyncio
import contextlib
import time

from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from persistence.config import Settings

# More than MAX_INVALID frames failing validation within INVALID_WINDOW_S close the socket with
# 4400. A leaky bucket, not a lifetime count: a driver whose clock runs near the 5 s skew limit
# sends the odd invalid ping all day long, and that is not a broken client.
MAX_INVALID = 20
INVALID_WINDOW_S = 60.0


class LeakyBucket:
    """Counts events, forgetting them at `capacity / window_s` per second: full means more
    than `capacity` within about one window."""

    def __init__(self, capacity: float, window_s: float, now: float | None = None) -> None:
        self.capacity, self.leak_per_s = capacity, capacity / window_s
        self.level = 0.0
        self.at = time.monotonic() if now is None else now

    def add(self, now: float | None = None) -> bool:
        """Count one; True when that overflows the bucket."""
        now = time.monotonic() if now is None else now
        leaked = max(0.0, now - self.at) * self.leak_per_s
        self.level = max(0.0, self.level - leaked) + 1
        self.at = max(now, self.at)
        return self.level > self.capacity
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
        # Two seconds' worth (docs/realtime-protocol.md): jitter is not abuse.
        self.burst = max(2.0, 2 * self.rate)
        self.tokens = self.burst
        self.refilled = time.monotonic()
        self.invalid = LeakyBucket(MAX_INVALID, INVALID_WINDOW_S)

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
        if self.invalid.add():
            raise Closing(4400, f"too many invalid messages (over {MAX_INVALID} in "
                                f"{INVALID_WINDOW_S:g} s)")


def gone(websocket: WebSocket, exc: BaseException) -> bool:
    """The client went away mid-send: not an error worth a stack trace."""
    return (isinstance(exc, WebSocketDisconnect | OSError)
            or type(exc).__name__ == "ClientDisconnected"
            or websocket.client_state == WebSocketState.DISCONNECTED
            or websocket.application_state == WebSocketState.DISCONNECTED)


def close_wait_s(settings: Settings) -> float:
    """How long a close frame may wait behind a client that does not read: by then uvicorn's
    keepalive has given up on it (its own close is queued instead)."""
    return settings.ws_ping_interval_s + settings.ws_ping_timeout_s + 1.0


async def close(websocket: WebSocket, code: int, reason: str) -> None:
    """Close once, quietly (the client may be gone already). A client that stopped reading
    gets the frame when it reads again; one that never does cannot hold this task forever."""
    if websocket.application_state == WebSocketState.DISCONNECTED:
        return
    with contextlib.suppress(Exception):
        async with asyncio.timeout(close_wait_s(websocket.app.state.settings)):
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
        raise Closing(1013, "slow consumer: reconnect with since and epoch") from exc
