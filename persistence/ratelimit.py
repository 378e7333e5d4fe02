"""Sliding-window rate limits: in Redis (one Lua script per check) or in-process without Redis."""

from __future__ import annotations

import math
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from persistence.redis import get_redis

log = structlog.get_logger(__name__)
KEY_PREFIX = "movehub:ratelimit:"

# Sliding log in a sorted set scored by the server's clock, so every gateway replica agrees.
# Refused hits are not recorded: a caller who keeps knocking is not locked out for longer.
_SLIDING_WINDOW = """
local key = KEYS[1]
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local record = ARGV[3] == '1'
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if count >= limit then
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  local wait = window
  if oldest[2] then wait = tonumber(oldest[2]) + window - now end
  return {0, count, tostring(wait)}
end
if record then
  redis.call('ZADD', key, now, ARGV[4])
  redis.call('PEXPIRE', key, math.ceil(window * 1000))
  count = count + 1
end
return {1, count, '0'}
"""


@dataclass(frozen=True, slots=True)
class Allowance:
    """The answer for one key: allowed or not, hits in the window, seconds until one frees up."""

    allowed: bool
    count: int
    retry_after_s: int


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, window_s: float) -> Allowance:
        """Count one hit if under the limit; say whether it was allowed."""
        ...

    async def peek(self, key: str, limit: int, window_s: float) -> Allowance:
        """Whether a hit would be allowed now, without counting one."""
        ...

    async def clear(self, key: str) -> None:
        """Forget every hit of a key."""
        ...


def _retry_after(wait_s: float) -> int:
    return max(1, math.ceil(wait_s))


class MemoryRateLimiter:
    """The same sliding log per key in this process; correct for one replica only."""

    SWEEP_AT = 10_000  # keys; beyond this, quiet keys are dropped so memory stays bounded

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._longest_window_s = 0.0

    def _sweep(self, now: float) -> None:
        quiet = [key for key, hits in self._hits.items()
                 if not hits or hits[-1] <= now - self._longest_window_s]
        for key in quiet:
            del self._hits[key]

    def check(self, key: str, limit: int, window_s: float, record: bool) -> Allowance:
        """Synchronous core of hit (record=True) and peek (record=False)."""
        now = self.clock()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - window_s:
            hits.popleft()
        if len(hits) >= limit:
            wait = hits[0] + window_s - now if hits else window_s
            return Allowance(False, len(hits), _retry_after(wait))
        if record:
            hits.append(now)
            self._longest_window_s = max(self._longest_window_s, window_s)
            if len(self._hits) > self.SWEEP_AT:
                self._sweep(now)
        elif not hits:
            del self._hits[key]  # peeking at a quiet key must not grow the table
        return Allowance(True, len(hits), 0)

    async def hit(self, key: str, limit: int, window_s: float) -> Allowance:
        return self.check(key, limit, window_s, record=True)

    async def peek(self, key: str, limit: int, window_s: float) -> Allowance:
        return self.check(key, limit, window_s, record=False)

    async def clear(self, key: str) -> None:
        self._hits.pop(key, None)


class RedisRateLimiter:
    """Shared by every replica; if Redis fails mid-request, falls back to the in-process log."""

    def __init__(self, redis: Redis, fallback: MemoryRateLimiter) -> None:
        self.redis = redis
        self.fallback = fallback

    async def _check(self, key: str, limit: int, window_s: float, record: bool) -> Allowance:
        member = f"{time.time_ns()}:{secrets.token_hex(4)}"
        try:
            allowed, count, wait = await self.redis.eval(
                _SLIDING_WINDOW, 1, KEY_PREFIX + key, repr(float(window_s)), str(limit),
                "1" if record else "0", member)
        except RedisError as exc:
            log.warning("ratelimit_redis_unavailable", error=str(exc))
            return self.fallback.check(key, limit, window_s, record)
        return Allowance(bool(allowed), int(count),
                         _retry_after(float(wait)) if not allowed else 0)

    async def hit(self, key: str, limit: int, window_s: float) -> Allowance:
        return await self._check(key, limit, window_s, record=True)

    async def peek(self, key: str, limit: int, window_s: float) -> Allowance:
        return await self._check(key, limit, window_s, record=False)

    async def clear(self, key: str) -> None:
        try:
            await self.redis.delete(KEY_PREFIX + key)
        except RedisError as exc:
            log.warning("ratelimit_redis_unavailable", error=str(exc))
        await self.fallback.clear(key)


_memory = MemoryRateLimiter()


def get_rate_limiter() -> RateLimiter:
    """Redis-backed when Redis is configured, else the process-wide in-memory limiter."""
    redis = get_redis()
    if redis is None:
        return _memory
    return RedisRateLimiter(redis, _memory)
