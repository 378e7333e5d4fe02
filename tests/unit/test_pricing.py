"""Pricing as a pure function: labour by crew hours in quarter-hour steps, distance, minimum."""

from __future__ import annotations

import pytest

from dispatch.pricing import Pricing, billable_hours, quote

RATES = Pricing(hourly_rate_cents=4500, per_km_cents=150, minimum_charge_cents=15000, currency="EUR")


def test_hours_round_up_to_quarter_hours() -> None:
    assert billable_hours(20, 2, 0, 40) == 5.0
    assert billable_hours(20, 2, 11.13, 40) == 5.5
    assert billable_hours(1, 4, 1, 40) == 0.25


def test_quote_adds_labour_and_distance() -> None:
    priced = quote(RATES, 11.13, 20, 2)
    assert priced.labour_cents == 4500 * 2 * 5.5
    assert priced.distance_cents == round(150 * 11.13)
    assert priced.total_cents == priced.labour_cents + priced.distance_cents
    assert priced.currency == "EUR"


def test_minimum_charge_applies_to_small_moves() -> None:
    assert quote(RATES, 0.5, 1, 1).total_cents == 15000


def test_more_crew_is_faster_but_not_cheaper_per_hour() -> None:
    two, four = quote(RATES, 5, 40, 2), quote(RATES, 5, 40, 4)
    assert four.billable_hours < two.billable_hours


@pytest.mark.parametrize(("km", "volume", "crew"), [(-1, 10, 2), (5, 0, 2), (5, 10, 0)])
def test_impossible_moves_are_rejected(km: float, volume: float, crew: int) -> None:
    with pytest.raises(ValueError):
        quote(RATES, km, volume, crew)
