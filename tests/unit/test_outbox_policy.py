"""The outbox's one retry policy (every topic, refund sends included): doubling delays with
jitter in the upper half, the cap, the attempt limit, permanent failures dead at once."""

from __future__ import annotations

import random

from persistence.config import Settings
from persistence.outbox import RetryPolicy


def test_delay_doubles_with_jitter_in_the_upper_half_and_caps() -> None:
    policy = RetryPolicy(base_s=5, max_s=600, max_attempts=8)
    rng = random.Random(7)
    for attempts, ceiling in [(1, 5), (2, 10), (3, 20), (4, 40), (12, 600)]:
        delays = [policy.delay_s(attempts, rng) for _ in range(50)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert max(delays) - min(delays) > ceiling / 10  # jittered, not one fixed delay


def test_gives_up_after_max_attempts_or_at_once_when_permanent() -> None:
    policy = RetryPolicy(base_s=5, max_s=600, max_attempts=8)
    assert not policy.gives_up(7, retryable=True)
    assert policy.gives_up(8, retryable=True)
    assert policy.gives_up(1, retryable=False)


def test_policy_comes_from_the_outbox_settings() -> None:
    settings = Settings(outbox_backoff_base_s=2, outbox_backoff_max_s=30, outbox_max_attempts=3)
    assert RetryPolicy.from_settings(settings) == RetryPolicy(base_s=2, max_s=30, max_attempts=3)
