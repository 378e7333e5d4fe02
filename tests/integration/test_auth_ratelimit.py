"""The Redis sliding-window limiter against the real Redis, and its fallback when Redis fails."""

from __future__ import annotations

import secrets

from redis.asyncio import Redis

from persistence.ratelimit import MemoryRateLimiter, RedisRateLimiter, get_rate_limiter
from persistence.redis import get_redis


async def test_redis_window_counts_refuses_and_clears() -> None:
    limiter = get_rate_limiter()
    assert isinstance(limiter, RedisRateLimiter)
    key = f"test:{secrets.token_hex(6)}"
    assert [(await limiter.hit(key, 3, 60)).count for _ in range(3)] == [1, 2, 3]
    refused = await limiter.hit(key, 3, 60)
    assert not refused.allowed and refused.count == 3 and 0 < refused.retry_after_s <= 60
    assert not (await limiter.peek(key, 3, 60)).allowed
    assert (await limiter.peek(key, 4, 60)).count == 3  # peeking and refusals add nothing
    redis = get_redis()
    assert redis is not None
    assert 0 < await redis.pttl(f"movehub:ratelimit:{key}") <= 60_000
    await limiter.clear(key)
    assert (await limiter.hit(key, 3, 60)).count == 1
    await limiter.clear(key)


async def test_window_slides_on_the_redis_clock() -> None:
    limiter = get_rate_limiter()
    key = f"test:{secrets.token_hex(6)}"
    assert (await limiter.hit(key, 1, 0.05)).allowed
    redis = get_redis()
    assert redis is not None
    # Wait on the server side, not a local sleep: the key expires with its window.
    while await redis.exists(f"movehub:ratelimit:{key}"):
        await redis.ping()
    assert (await limiter.hit(key, 1, 0.05)).allowed
    await limiter.clear(key)


async def test_unreachable_redis_falls_back_to_the_process() -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    fallback = MemoryRateLimiter()
    limiter = RedisRateLimiter(dead, fallback)
    try:
        assert (await limiter.hit("fallback:key", 1, 60)).allowed
        assert not (await limiter.hit("fallback:key", 1, 60)).allowed
        assert not (await fallback.peek("fallback:key", 1, 60)).allowed
    finally:
        await dead.aclose()
