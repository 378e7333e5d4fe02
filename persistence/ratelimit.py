"""Rate limits with the `limits` package: Redis shared by every replica, in-process memory when
Redis is not configured, and memory again (for a while) whenever Redis fails or is slow."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import structlog
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter, SlidingWindowCounterRateLimiter
from limits.errors import StorageError
from limits.util import WindowStats

from persistence.config import Settings
from persistence.redis import CLIENT_OPTIONS

log = structlog.get_logger(__name__)
KEY_PREFIX = "movehub:ratelimit"
T = TypeVar("T")


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

    async def clear(self, key: str, limit: int, window_s: float) -> None:
        """Forget every hit of a key under that limit."""
        ...


def retry_after(stats: WindowStats) -> int:
    """Whole seconds until the window frees a hit (at least 1: a 429 never says "now")."""
    return max(1, math.ceil(stats.reset_time - time.time()))


def _item(limit: int, window_s: float) -> RateLimitItem:
    return RateLimitItemPerSecond(limit, max(1, math.ceil(window_s)))


def _storage_uri(redis_url: str) -> str:
    """redis://, rediss:// and unix:// as the async schemes of `limits`."""
    if redis_url.startswith("unix://"):
        return "async+redis+unix://" + redis_url.removeprefix("unix://")
    return "async+" + redis_url


class _Backend:
    """One storage and both strategies over it: the exact moving window (a log of hits, for
    small budgets such as sign-in codes) and the sliding window counter (two counters a key,
    for the API's large per-minute budgets)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.exact = MovingWindowRateLimiter(storage)
        self.counter = SlidingWindowCounterRateLimiter(storage)


class LimitsRateLimiter:
    """Every limit of one process. Redis failing or slower than `timeout_s` is logged and the
    in-process storage answers instead; Redis is tried again after `retry_s`, so an outage
    costs one bounded wait per `retry_s`, not one per request. Counts kept in memory during
    an outage are this replica's only."""

    def __init__(self, redis_url: str, timeout_s: float = 0.25, retry_s: float = 5.0) -> None:
        self.timeout_s, self.retry_s = timeout_s, retry_s
        self.memory = _Backend(MemoryStorage())
        self.redis: _Backend | None = None
        if redis_url:
            self.redis = _Backend(
                RedisStorage(
                    _storage_uri(redis_url),
                    wrap_exceptions=True,
                    implementation="redispy",
                    key_prefix=KEY_PREFIX,
                    socket_timeout=timeout_s,
                    socket_connect_timeout=timeout_s,
                    retry_on_error=CLIENT_OPTIONS["retry_on_error"],
                )
            )
        self._redis_down_until = 0.0

    @property
    def shared(self) -> bool:
        """Whether counts are (right now) shared with the other replicas through Redis."""
        return self.redis is not None and time.monotonic() >= self._redis_down_until

    async def run(self, operation: Callable[[_Backend], Awaitable[T]]) -> T:
        """Run a limiter operation on Redis when it is healthy, else on the process."""
        if self.redis is not None and self.shared:
            try:
                async with asyncio.timeout(self.timeout_s * 2):
                    return await operation(self.redis)
            except (StorageError, OSError, TimeoutError) as exc:
                self._redis_down_until = time.monotonic() + self.retry_s
                log.warning("ratelimit_redis_unavailable", error=repr(exc), retry_in_s=self.retry_s)
        return await operation(self.memory)

    async def _answer(self, backend: _Backend, item: RateLimitItem, key: str, allowed: bool) -> Allowance:
        stats = await backend.exact.get_window_stats(item, key)
        return Allowance(allowed, item.amount - stats.remaining, 0 if allowed else retry_after(stats))

    async def hit(self, key: str, limit: int, window_s: float) -> Allowance:
        item = _item(limit, window_s)

        async def operation(backend: _Backend) -> Allowance:
            allowed = await backend.exact.hit(item, key)  # a refused hit is not recorded
            return await self._answer(backend, item, key, allowed)

        return await self.run(operation)

    async def peek(self, key: str, limit: int, window_s: float) -> Allowance:
        item = _item(limit, window_s)

        async def operation(backend: _Backend) -> Allowance:
            return await self._answer(backend, item, key, await backend.exact.test(item, key))

        return await self.run(operation)

    async def clear(self, key: str, limit: int, window_s: float) -> None:
        item = _item(limit, window_s)

        async def operation(backend: _Backend) -> None:
            await backend.exact.clear(item, key)

        await self.run(operation)
        await self.memory.exact.clear(item, key)  # nothing counted during an outage survives

    async def acquire(self, items: list[RateLimitItem], *identifiers: str) -> int:
        """Count a request against each of a budget's limits (cheap counters); 0 when all
        allow it, else the Retry-After seconds of the first limit it exceeds."""

        async def operation(backend: _Backend) -> int:
            for item in items:
                if not await backend.counter.hit(item, *identifiers):
                    return retry_after(await backend.counter.get_window_stats(item, *identifiers))
            return 0

        return await self.run(operation)

    async def close(self) -> None:
        if self.redis is not None:
            client = self.redis.storage.bridge.storage  # type: ignore[attr-defined]
            await client.aclose()


def build_rate_limiter(settings: Settings) -> LimitsRateLimiter:
    return LimitsRateLimiter(
        settings.redis_url, settings.rate_limit_redis_timeout_s, settings.rate_limit_redis_retry_s
    )
