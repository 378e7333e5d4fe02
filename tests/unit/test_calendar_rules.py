"""Interval arithmetic behind the calendar views."""

from datetime import UTC, datetime, timedelta

import pytest

from dispatch.calendar.rules import Interval, free_gaps, merge, utilization

T0 = datetime(2026, 12, 1, 8, tzinfo=UTC)


def iv(start_h: float, end_h: float) -> Interval:
    return Interval(T0 + timedelta(hours=start_h), T0 + timedelta(hours=end_h))


def test_merge_joins_overlapping_and_touching() -> None:
    assert merge([iv(3, 4), iv(0, 1), iv(0.5, 2), iv(2, 2.5)]) == [iv(0, 2.5), iv(3, 4)]


def test_free_gaps_inside_bounds() -> None:
    assert free_gaps([iv(1, 2), iv(4, 5)], iv(0, 6)) == [iv(0, 1), iv(2, 4), iv(5, 6)]
    assert free_gaps([iv(-1, 7)], iv(0, 6)) == []
    assert free_gaps([iv(1, 2)], iv(0, 6), min_gap=timedelta(hours=2)) == [iv(2, 6)]


def test_utilization_clips_to_bounds() -> None:
    assert utilization([iv(-2, 1), iv(3, 4)], iv(0, 4)) == pytest.approx(0.5)
    assert utilization([], iv(0, 4)) == 0.0


def test_overlap_is_half_open() -> None:
    assert iv(0, 2).overlaps(iv(1, 3))
    assert not iv(0, 2).overlaps(iv(2, 3))


def test_empty_interval_rejected() -> None:
    with pytest.raises(ValueError):
        iv(1, 1)
