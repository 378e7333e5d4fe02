"""The limiter over the in-process storage of `limits` (what runs when no Redis is configured)."""

from __future__ import annotations

import asyncio
import secrets

from persistence.config import Settings
from persistence.ratelimit import LimitsRateLimiter, build_rate_limiter


def _key() -> str:
    return f"dest:{secrets.token_hex(6)}"


async def test_limit_counts_refuses_and_keys_are_independent() -> None:
    limiter = LimitsRateLimiter("")
    key = _key()
    assert [(await limiter.hit(key, 3, 60)).count for _ in range(3)] == [1, 2, 3]
    refused = await limiter.hit(key, 3, 60)
    assert not refused.allowed and refused.count == 3
    assert 55 <= refused.retry_after_s <= 60  # the first hit leaves the window in a minute
    assert (await limiter.hit(_key(), 3, 60)).allowed


async def test_the_window_slides() -> None:
    limiter = LimitsRateLimiter("")
    key = _key()
    assert (await limiter.hit(key, 1, 1)).allowed
    assert not (await limiter.hit(key, 1, 1)).allowed
    await asyncio.sleep(1.2)
    assert (await limiter.hit(key, 1, 1)).allowed


async def test_refused_hits_are_not_counted_and_peek_counts_nothing() -> None:
    limiter = LimitsRateLimiter("")
    key = _key()
    assert (await limiter.peek(key, 1, 60)).allowed
    assert (await limiter.peek(key, 1, 60)).count == 0
    await limiter.hit(key, 1, 60)
    for _ in range(5):
        assert not (await limiter.hit(key, 1, 60)).allowed
    peeked = await limiter.peek(key, 1, 60)
    assert not peeked.allowed and peeked.count == 1  # five refusals added nothing
    await limiter.clear(key, 1, 60)
    assert (await limiter.peek(key, 1, 60)).count == 0


async def test_a_budget_of_several_limits_answers_the_first_exceeded() -> None:
    from limits import parse_many

    limiter = LimitsRateLimiter("")
    burst, sustained = parse_many("2/second;3/hour")
    who = secrets.token_hex(6)
    assert [await limiter.acquire([burst, sustained], "t", who) for _ in range(2)] == [0, 0]
    assert await limiter.acquire([burst, sustained], "t", who) == 1  # the burst: retry in 1 s
    await asyncio.sleep(2.1)  # past the next second too: the burst counts nothing anymore
    assert await limiter.acquire([burst, sustained], "t", who) == 0
    assert await limiter.acquire([burst, sustained], "t", who) >= 1  # the hour's budget


def test_without_redis_the_limiter_is_in_process() -> None:
    limiter = build_rate_limiter(Settings(redis_url=""))
    assert limiter.redis is None and not limiter.shared
