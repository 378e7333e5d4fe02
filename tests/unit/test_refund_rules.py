"""Refund tiers at their exact boundaries, per-org overrides, and caps."""

from datetime import timedelta

import pytest

from dispatch.refunds.rules import (
    DEFAULT_TIERS,
    refund_percent,
    refundable_cents,
    tiers_for,
)

H = timedelta(hours=1)
S = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("notice", "percent"),
    [
        (200 * H, 100),
        (72 * H, 100),
        (72 * H - S, 75),
        (48 * H, 75),
        (48 * H - S, 50),
        (24 * H, 50),
        (24 * H - S, 0),
        (0 * H, 0),
        (-5 * H, 0),
    ],
)
def test_tier_boundaries(notice: timedelta, percent: int) -> None:
    assert refund_percent(notice) == percent


def test_org_override_and_malformed_fallback() -> None:
    custom = tiers_for({"tiers": [[0, 10], [12, 90]]})
    assert custom == ((12, 90), (0, 10))
    assert refund_percent(12 * H, custom) == 90 and refund_percent(11 * H, custom) == 10
    assert tiers_for(None) == DEFAULT_TIERS
    assert tiers_for({"tiers": [[24, 150], [0, 0]]}) == DEFAULT_TIERS
    assert tiers_for({"tiers": [[24, 50]]}) == DEFAULT_TIERS  # no catch-all tier
    assert tiers_for({"tiers": "all"}) == DEFAULT_TIERS


def test_refund_never_exceeds_what_is_unrefunded() -> None:
    assert refundable_cents(10_001, 0, 75) == 7_500
    assert refundable_cents(10_000, 9_000, 50) == 1_000
    assert refundable_cents(10_000, 10_000, 100) == 0
