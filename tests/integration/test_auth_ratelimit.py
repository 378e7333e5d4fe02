"""The limiter against the real Redis, and its bounded fallback to the process when Redis
refuses connections or accepts them and never answers."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator

from limits import RateLimitItem, RateLimitItemPerSecond

from persistence.config import get_settings
from persistence.ratelimit import KEY_PREFIX, LimitsRateLimiter
from persistence.redis import get_redis


def _item(limit: int, window_s: int) -> RateLimitItem:
    return RateLimitItemPerSecond(limit, window_s)


@contextlib.asynccontextmanager
async def _limiter(url: str, timeout_s: float = 0.25) -> AsyncIterator[LimitsRateLimiter]:
    limiter = LimitsRateLimiter(url, timeout_s=timeout_s, retry_s=60)
    try:
        yield limiter
    finally:
        await limiter.close()


async def test_redis_window_counts_refuses_and_clears() -> None:
    async with _limiter(get_settings().redis_url) as limiter:
        assert limiter.shared
        key = f"test:{secrets.token_hex(6)}"
        assert [(await limiter.hit(key, 3, 60)).count for _ in range(3)] == [1, 2, 3]
        refused = await limiter.hit(key, 3, 60)
        assert not refused.allowed and refused.count == 3 and 0 < refused.retry_after_s <= 60
        peeked = await limiter.peek(key, 3, 60)
        assert not peeked.allowed and peeked.count == 3  # peeking and refusals add nothing
        redis = get_redis()
        assert redis is not None
        assert 0 < await redis.ttl(f"{KEY_PREFIX}:LIMITER/{key}/3/60/second") <= 60
        assert await limiter.memory.exact.test(_item(3, 60), key)  # none counted in-process
        await limiter.clear(key, 3, 60)
        assert (await limiter.hit(key, 3, 60)).count == 1
        await limiter.clear(key, 3, 60)


async def test_two_limiters_share_counts_through_redis() -> None:
    url = get_settings().redis_url
    async with _limiter(url) as one, _limiter(url) as other:
        key = f"test:{secrets.token_hex(6)}"
        assert (await one.hit(key, 2, 60)).allowed
        assert (await other.hit(key, 2, 60)).allowed
        assert not (await one.hit(key, 2, 60)).allowed
        await one.clear(key, 2, 60)


async def test_the_key_expires_with_its_window_on_redis() -> None:
    async with _limiter(get_settings().redis_url) as limiter:
        key = f"test:{secrets.token_hex(6)}"
        assert (await limiter.hit(key, 1, 1)).allowed
        assert not (await limiter.hit(key, 1, 1)).allowed
        redis = get_redis()
        assert redis is not None
        async with asyncio.timeout(10):
            while await redis.exists(f"{KEY_PREFIX}:LIMITER/{key}/1/1/second"):
                await asyncio.sleep(0.05)
        assert (await limiter.hit(key, 1, 1)).allowed


async def test_refused_connections_fall_back_to_the_process() -> None:
    async with _limiter("redis://127.0.0.1:1/0", timeout_s=0.2) as limiter:
        assert (await limiter.hit("fallback:key", 1, 60)).allowed
        assert not limiter.shared  # Redis is left alone for retry_s
        assert not (await limiter.hit("fallback:key", 1, 60)).allowed
        assert not (await limiter.memory.exact.test(_item(1, 60), "fallback:key"))


async def test_a_redis_that_never_answers_costs_one_bounded_wait() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accept, read, never answer: a blackholed link

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with _limiter(f"redis://127.0.0.1:{port}/0", timeout_s=0.2) as limiter:
            async with asyncio.timeout(10):  # a hang fails the test instead of stalling it
                first = await limiter.hit("silent:key", 2, 60)
                second = await limiter.hit("silent:key", 2, 60)
                third = await limiter.hit("silent:key", 2, 60)
            assert first.allowed and second.allowed and not third.allowed
            assert not limiter.shared
    finally:
        server.close()
