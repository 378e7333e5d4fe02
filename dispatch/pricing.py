"""Move pricing as a pure function of distance, volume, crew and the organization's rates."""

from __future__ import annotations

import math
from dataclasses import dataclass

# A crew member loads (and later unloads) about 4 m3 of household goods an hour.
M3_PER_PERSON_HOUR = 4.0
BILLING_INCREMENT_H = 0.25


@dataclass(frozen=True, slots=True)
class Pricing:
    hourly_rate_cents: int  # per crew member
    per_km_cents: int
    minimum_charge_cents: int
    currency: str


@dataclass(frozen=True, slots=True)
class Quote:
    distance_km: float
    billable_hours: float
    labour_cents: int
    distance_cents: int
    total_cents: int
    currency: str


def billable_hours(volume_m3: float, crew_size: int, distance_km: float, average_speed_kmh: float) -> float:
    """Loading + unloading + driving, rounded up to the billing increment."""
    handling = 2.0 * volume_m3 / (M3_PER_PERSON_HOUR * crew_size)
    driving = distance_km / average_speed_kmh
    raw = handling + driving
    return math.ceil(raw / BILLING_INCREMENT_H - 1e-9) * BILLING_INCREMENT_H


def quote(
    pricing: Pricing, distance_km: float, volume_m3: float, crew_size: int, average_speed_kmh: float = 40.0
) -> Quote:
    if distance_km < 0 or volume_m3 <= 0 or crew_size < 1:
        raise ValueError("distance must be >= 0, volume > 0 and crew >= 1")
    hours = billable_hours(volume_m3, crew_size, distance_km, average_speed_kmh)
    labour = round(pricing.hourly_rate_cents * crew_size * hours)
    by_distance = round(pricing.per_km_cents * distance_km)
    return Quote(
        distance_km=round(distance_km, 2),
        billable_hours=hours,
        labour_cents=labour,
        distance_cents=by_distance,
        total_cents=max(pricing.minimum_charge_cents, labour + by_distance),
        currency=pricing.currency,
    )
