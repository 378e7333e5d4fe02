"""Pure rating rules: counter deltas, the edit window boundary, averages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dispatch.ratings.rules import (
    average,
    counter_delta,
    editable_until,
    score_summary,
    within_edit_window,
)


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


def test_score_summary_from_counts_per_star() -> None:
    assert score_summary({5: 1, 4: 1}) == (4.5, 2, {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1})
    assert score_summary({}) == (0.0, 0, {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0})
    assert score_summary({1: 2, 2: 1}) == (1.33, 3, {"1": 2, "2": 1, "3": 0, "4": 0, "5": 0})
