"""Refund policy as pure functions: tiers by notice given and caps (retries are the outbox's)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from enum import StrEnum
from typing import Any, Final

# (minimum notice in hours, percent refunded), most notice first. The last tier catches all.
DEFAULT_TIERS: Final[tuple[tuple[int, int], ...]] = ((72, 100), (48, 75), (24, 50), (0, 0))


class ReasonCode(StrEnum):
    CHANGE_OF_PLANS = "change_of_plans"
    FOUND_ANOTHER_MOVER = "found_another_mover"
    PRICE = "price"
    SCHEDULE_CONFLICT = "schedule_conflict"
    MOVER_CANCELLED = "mover_cancelled"
    SUPPORT_RESOLUTION = "support_resolution"
    OTHER = "other"


def tiers_for(refund_policy: Mapping[str, Any] | None) -> tuple[tuple[int, int], ...]:
    """An organization's tiers (organizations.refund_policy = {"tiers": [[h, pct], ...]}),
    or the defaults when it has none or they are malformed."""
    raw = (refund_policy or {}).get("tiers")
    if not isinstance(raw, Sequence) or not raw:
        return DEFAULT_TIERS
    try:
        tiers = tuple(sorted(((int(h), int(p)) for h, p in raw), reverse=True))
    except (TypeError, ValueError):
        return DEFAULT_TIERS
    if any(h < 0 or not 0 <= p <= 100 for h, p in tiers) or tiers[-1][0] != 0:
        return DEFAULT_TIERS
    return tiers


def refund_percent(notice: timedelta, tiers: Sequence[tuple[int, int]] = DEFAULT_TIERS) -> int:
    """Percent refunded when cancelling `notice` before the scheduled start (>= is inclusive:
    exactly 72:00:00 is the 100 % tier, 71:59:59 the 75 % tier)."""
    for hours, percent in tiers:
        if notice >= timedelta(hours=hours):
            return percent
    return 0


def refundable_cents(price_paid: int, already_refunded: int, percent: int) -> int:
    """The tier's share of what was paid, never more than what is still unrefunded."""
    share = price_paid * percent // 100
    return max(0, min(share, price_paid - already_refunded))
