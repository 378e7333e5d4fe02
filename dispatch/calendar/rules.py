"""Calendar arithmetic over time intervals: merging busy time, free gaps, utilization."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

_TICK = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Interval:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("an interval must end after it starts")

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def overlaps(self, other: Interval) -> bool:
        """Half-open [start, end): touching intervals do not overlap (like tstzrange &&)."""
        return self.start < other.end and other.start < self.end

    def clip(self, bounds: Interval) -> Interval | None:
        start, end = max(self.start, bounds.start), min(self.end, bounds.end)
        return Interval(start, end) if end > start else None


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Union of intervals as a sorted list of disjoint intervals."""
    merged: list[Interval] = []
    for interval in sorted(intervals, key=lambda i: i.start):
        if merged and interval.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Interval(last.start, max(last.end, interval.end))
        else:
            merged.append(interval)
    return merged


def _clipped(busy: Iterable[Interval], bounds: Interval) -> list[Interval]:
    """Busy time inside `bounds`, merged."""
    return merge(c for c in (b.clip(bounds) for b in busy) if c is not None)


def free_gaps(
    busy: Iterable[Interval], bounds: Interval, min_gap: timedelta = timedelta(0)
) -> list[Interval]:
    """The parts of `bounds` not covered by `busy`, at least `min_gap` long."""
    gaps: list[Interval] = []
    cursor = bounds.start
    for interval in [*_clipped(busy, bounds), Interval(bounds.end, bounds.end + _TICK)]:
        if interval.start > cursor and interval.start - cursor >= min_gap:
            gaps.append(Interval(cursor, interval.start))
        cursor = max(cursor, interval.end)
    return gaps


def utilization(busy: Iterable[Interval], bounds: Interval) -> float:
    """Share of `bounds` covered by busy time, 0.0 to 1.0."""
    covered = sum((i.duration for i in _clipped(busy, bounds)), timedelta(0))
    return covered / bounds.duration
