"""The shared Redis client, or None when no Redis is configured (in-process defaults apply)."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from persistence.config import get_settings

_client: Redis | None = None

# Under uvloop, the first command on a pooled connection that the network reset raises
# RuntimeError ("the handler is closed") instead of a ConnectionError. Retrying it on a new
# connection turns an outage into the RedisError every caller already handles.
CLIENT_OPTIONS: dict[str, Any] = {"retry_on_error": [RuntimeError], "socket_connect_timeout": 2.0}


def get_redis() -> Redis | None:
    global _client
    url = get_settings().redis_url
    if not url:
        return None
    if _client is None:
        _client = Redis.from_url(url, decode_responses=False, health_check_interval=30, **CLIENT_OPTIONS)
    return _client


async def close_redis() -> None:
    global _client
    if _client is not None:
        await _client.aclose()
    _client = None
