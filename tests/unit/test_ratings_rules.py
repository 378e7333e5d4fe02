"""Pure rating rules: counter deltas, the edit window boundary, averages; retry backoff."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from dispatch.notifications.backoff import gives_up, retry_delay_s
from dispatch.ratings.rules import average, counter_delta, editable_until, within_edit_window


def test_new_rating_adds_one_star() -> None:
    delta = counter_delta(None, 4)
    assert (delta.rating_sum, delta.rating_count, delta.stars) == (4, 1, (0, 0, 0, 1, 0))


def test_changed_rating_moves_a_star_and_keeps_the_count() -> None:
    delta = counter_delta(5, 2)
    assert (delta.rating_sum, delta.rating_count, delta.stars) == (-3, 0, (0, 1, 0, 0, -1))


def test_removed_rating_subtracts_and_unchanged_is_zero() -> None:
    delta = counter_delta(3, None)
    assert (delta.rating_sum, delta.rating_count, delta.stars) == (-3, -1, (0, 0, -1, 0, 0))
    assert counter_delta(3, 3).is_zero and counter_delta(None, None).is_zero


def test_edit_window_includes_its_last_instant() -> None:
    created = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    window = timedelta(days=7)
    assert editable_until(created, window) == datetime(2026, 11, 8, 12, 0, tzinfo=UTC)
    assert within_edit_window(created, created + window, window)
    assert not within_edit_window(created, created + window + timedelta(microseconds=1), window)


def test_average_rounds_to_cents_of_a_star() -> None:
    assert average(0, 0) == 0.0
    assert average(14, 3) == 4.67


def test_backoff_doubles_with_jitter_in_the_upper_half_and_caps() -> None:
    rng = random.Random(7)
    for attempts, ceiling in [(1, 5), (2, 10), (3, 20), (4, 40), (12, 600)]:
        for _ in range(50):
            delay = retry_delay_s(attempts, base_s=5, cap_s=600, rng=rng)
            assert ceiling / 2 <= delay <= ceiling


def test_gives_up_after_max_attempts_or_at_once_when_permanent() -> None:
    assert not gives_up(7, 8, retryable=True)
    assert gives_up(8, 8, retryable=True)
    assert gives_up(1, 8, retryable=False)
