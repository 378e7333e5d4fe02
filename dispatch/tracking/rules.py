"""Pure rules for the ETA to a job's next stop, and when a new ETA is worth telling anyone.

The model. The remaining road distance is the great-circle distance d times a circuity
factor, less the geofence radius (arrival is entering the geofence: what the customer is told
and what the board shows). The factor: a crew moving along a street heads at some angle t
off the straight line to the stop; on a street grid whose streets run along and across its
heading, what is left to drive is d * (|cos t| + |sin t|) (1 when heading straight at the
stop, at most sqrt 2, about 4/pi = 1.27 on average, the usual urban circuity figure). When
the heading is unknown or points away from the stop (|t| > 90 degrees: a turn-around ahead),
the configured road factor (MOVEHUB_ETA_ROAD_FACTOR, 1.3) is used instead.
The speed is the driver's own recent speed: an exponentially smoothed average of the pinged
(or, without one, the measured) speeds with a time constant of about a minute, starting from
the default urban speed, so stops at lights and corners count but do not swing the ETA; it
never counts below a floor (a fraction of that default): a crew waiting at a light is not
"never arriving".

Why not a routing engine: there is no road graph here (the board draws a projected frame
without tiles), and against the simulator's street-grid drives this model's error is reported
by tests/bench/bench_eta.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

EARTH_RADIUS_M = 6_371_000.0


@dataclass(frozen=True, slots=True)
class EtaModel:
    road_factor: float = 1.3
    default_speed_mps: float = 30 / 3.6
    floor_fraction: float = 0.4  # the smoothed speed never counts below this x default
    smoothing_s: float = 60.0  # time constant of the speed average
    near_s: float = 600.0  # "your crew is about N minutes away" once the ETA is below this
    arrival_m: float = 0.0  # the geofence: a crew "arrives" this far before the stop itself

    @classmethod
    def of(
        cls, road_factor: float, default_speed_kmh: float, near_minutes: float, arrival_m: float = 0.0
    ) -> EtaModel:
        return cls(
            road_factor=road_factor,
            default_speed_mps=default_speed_kmh / 3.6,
            near_s=near_minutes * 60,
            arrival_m=arrival_m,
        )


@dataclass(frozen=True, slots=True)
class Estimate:
    eta_s: float
    distance_m: float  # remaining road distance (straight line x road factor)

    @property
    def minutes(self) -> int:
        """The minute a person would be told: rounded up, never 0 before arrival."""
        return max(1, math.ceil(self.eta_s / 60)) if self.eta_s > 0 else 0


def great_circle_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def observed_speed(pinged: float | None, moved_m: float, dt_s: float) -> float | None:
    """The speed a ping tells: its own `speed` if it has one, else distance over time since
    the previous ping (None when there is no previous ping to measure from)."""
    if pinged is not None and math.isfinite(pinged) and pinged >= 0:
        return pinged
    if dt_s <= 0:
        return None
    return moved_m / dt_s


def smoothed_speed(
    previous: float | None, observed: float | None, dt_s: float, model: EtaModel
) -> float | None:
    """Exponential average over time (pings at any rate weigh by the time they cover). It
    starts from the default speed, not the first ping's: a crew pulling away from the curb
    is not going to crawl all the way."""
    if observed is None:
        return previous
    if previous is None or not math.isfinite(previous):
        previous = model.default_speed_mps
    weight = 1.0 - math.exp(-max(dt_s, 0.0) / model.smoothing_s)
    return previous + weight * (observed - previous)


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The initial compass bearing from the first point to the second, 0-360."""
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.degrees(math.atan2(y, x)) % 360


def circuity(
    lat: float, lon: float, stop_lat: float, stop_lon: float, heading: float | None, model: EtaModel
) -> float:
    """Road distance over straight distance for what is left (see the module's docstring)."""
    if heading is None or not math.isfinite(heading):
        return model.road_factor
    off = math.radians((bearing_deg(lat, lon, stop_lat, stop_lon) - heading + 540) % 360 - 180)
    if abs(off) > math.pi / 2:
        return model.road_factor
    return abs(math.cos(off)) + abs(math.sin(off))


def estimate(
    lat: float,
    lon: float,
    stop_lat: float,
    stop_lon: float,
    speed_mps: float | None,
    model: EtaModel,
    heading: float | None = None,
) -> Estimate:
    """The ETA from here to the stop's geofence at the driver's smoothed speed (or the
    default one)."""
    straight_m = great_circle_m(lat, lon, stop_lat, stop_lon)
    factor = circuity(lat, lon, stop_lat, stop_lon, heading, model)
    distance_m = max(0.0, straight_m * factor - model.arrival_m)
    floor = model.default_speed_mps * model.floor_fraction
    speed = model.default_speed_mps if speed_mps is None else max(speed_mps, floor)
    return Estimate(eta_s=distance_m / speed, distance_m=distance_m)


def worth_telling(previous_minutes: int | None, estimate: Estimate) -> bool:
    """A new ETA goes out when the minute a person would read changes (not on every ping)."""
    return previous_minutes != estimate.minutes


def crew_is_near(estimate: Estimate, model: EtaModel) -> bool:
    """The ETA has dropped below the "about N minutes away" threshold."""
    return estimate.eta_s <= model.near_s
