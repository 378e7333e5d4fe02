"""The in-process sliding-window limiter (the fallback when no Redis is configured)."""

from __future__ import annotations

import pytest

from persistence.config import get_settings
from persistence.ratelimit import MemoryRateLimiter, get_rate_limiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_limit_then_window_slides() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock)
    for expected in (1, 2, 3):
        allowance = await limiter.hit("dest:a", 3, 60)
        assert allowance.allowed and allowance.count == expected
        clock.now += 10
    refused = await limiter.hit("dest:a", 3, 60)
    assert not refused.allowed and refused.count == 3
    assert refused.retry_after_s == 30  # the first hit (t=1000) leaves the window at t=1060
    assert (await limiter.hit("dest:b", 3, 60)).allowed  # keys are independent
    clock.now = 1060.5
    assert (await limiter.hit("dest:a", 3, 60)).allowed


async def test_refused_hits_are_not_counted_and_peek_counts_nothing() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock)
    assert (await limiter.peek("fail:a", 1, 60)).allowed
    await limiter.hit("fail:a", 1, 60)
    for _ in range(5):
        assert not (await limiter.hit("fail:a", 1, 60)).allowed
    assert not (await limiter.peek("fail:a", 1, 60)).allowed
    clock.now += 60.1
    assert (await limiter.peek("fail:a", 1, 60)).allowed
    await limiter.hit("fail:a", 1, 60)
    await limiter.clear("fail:a")
    assert (await limiter.peek("fail:a", 1, 60)).count == 0


async def test_quiet_keys_are_swept() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock)
    limiter.SWEEP_AT = 10
    for n in range(10):
        await limiter.hit(f"ip:{n}", 5, 60)
    clock.now += 61
    await limiter.hit("ip:new", 5, 60)
    await limiter.hit("ip:newer", 5, 60)
    assert set(limiter._hits) == {"ip:new", "ip:newer"}


def test_without_redis_the_process_limiter_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "redis_url", "")
    assert isinstance(get_rate_limiter(), MemoryRateLimiter)
