"""Pure rating rules: the edit window and the counter changes a rating change causes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

STARS = (1, 2, 3, 4, 5)


def editable_until(created_at: datetime, window: timedelta) -> datetime:
    return created_at + window


def within_edit_window(created_at: datetime, now: datetime, window: timedelta) -> bool:
    """The customer may still change or withdraw the rating (the last instant included)."""
    return now <= editable_until(created_at, window)


@dataclass(frozen=True, slots=True)
class CounterDelta:
    """What to add to a running sum, count and per-star breakdown."""

    rating_sum: int = 0
    rating_count: int = 0
    stars: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)

    @property
    def is_zero(self) -> bool:
        return self.rating_count == 0 and self.rating_sum == 0 and not any(self.stars)


def counter_delta(old: int | None, new: int | None) -> CounterDelta:
    """Counters change from a counted value `old` to `new` (None = not counted)."""
    stars = [0, 0, 0, 0, 0]
    if old is not None:
        stars[old - 1] -= 1
    if new is not None:
        stars[new - 1] += 1
    return CounterDelta(
        rating_sum=(new or 0) - (old or 0),
        rating_count=(new is not None) - (old is not None),
        stars=(stars[0], stars[1], stars[2], stars[3], stars[4]),
    )


def average(rating_sum: int, rating_count: int) -> float:
    return round(rating_sum / rating_count, 2) if rating_count else 0.0


def score_summary(counts: dict[int, int]) -> tuple[float, int, dict[str, int]]:
    """(average, count, 1-5 distribution) of a score from how many ratings gave each star."""
    distribution = {str(star): int(counts.get(star, 0)) for star in STARS}
    count = sum(distribution.values())
    total = sum(star * int(counts.get(star, 0)) for star in STARS)
    return average(total, count), count, distribution
