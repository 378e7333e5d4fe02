"""The simulator's motion model: a service area's local metric frame, street-grid routes inside
it, and a vehicle gliding along them (pure: no sockets, no database, no clock but `ping`'s)."""

from __future__ import annotations

import math
import random
import time
import uuid
from dataclasses import dataclass
from typing import Any

from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from shapely.prepared import prep

M_PER_DEG_LAT = 110_540.0
M_PER_DEG_LON_EQUATOR = 111_320.0
ACCEL_M_S2 = 1.5
TURN_DEG_PER_S = 90.0
XY = tuple[float, float]


@dataclass
class Area:
    """An organization's service area with a local metric frame around its centre."""

    org_id: uuid.UUID
    code: str
    shape: BaseGeometry
    lon0: float = 0.0
    lat0: float = 0.0

    def __post_init__(self) -> None:
        centre = self.shape.centroid
        self.lon0, self.lat0 = centre.x, centre.y
        self._inside = prep(self.shape)

    def to_m(self, lon: float, lat: float) -> XY:
        return (
            (lon - self.lon0) * M_PER_DEG_LON_EQUATOR * math.cos(math.radians(self.lat0)),
            (lat - self.lat0) * M_PER_DEG_LAT,
        )

    def to_lonlat(self, x: float, y: float) -> XY:
        return (
            self.lon0 + x / (M_PER_DEG_LON_EQUATOR * math.cos(math.radians(self.lat0))),
            self.lat0 + y / M_PER_DEG_LAT,
        )

    def contains(self, x: float, y: float) -> bool:
        return bool(self._inside.contains(Point(*self.to_lonlat(x, y))))

    def random_point(self, rng: random.Random) -> XY:
        minx, miny, maxx, maxy = self.shape.bounds
        for _ in range(200):
            x, y = self.to_m(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
            if self.contains(x, y):
                return x, y
        return 0.0, 0.0


def street_route(rng: random.Random, area: Area, start: XY, goal: XY, grid_deg: float) -> list[XY]:
    """Corners of a city-block route: legs along a rotated street grid, every corner inside
    the service area (a straight run when no such corner exists)."""
    ux, uy = math.cos(math.radians(grid_deg)), math.sin(math.radians(grid_deg))
    vx, vy = -uy, ux
    dx, dy = goal[0] - start[0], goal[1] - start[1]
    du, dv = dx * ux + dy * uy, dx * vx + dy * vy
    for _ in range(6):
        split = rng.uniform(0.25, 0.75)
        corners = [(start[0] + ux * du * split, start[1] + uy * du * split)]
        corners.append((corners[0][0] + vx * dv, corners[0][1] + vy * dv))
        if all(area.contains(*corner) for corner in corners):
            return [*corners, goal]
    return [goal]


class Motion:
    """A vehicle gliding along a polyline: speeds up, slows for corners, turns smoothly.

    `arrived` turns true when an `advance` reaches the end of the route given by the last
    `drive_to` (the session waits on it to know a stop is reached).
    """

    def __init__(self, area: Area, position: XY, rng: random.Random) -> None:
        self.area, self.rng = area, rng
        self.x, self.y = position
        self.heading = rng.uniform(0, 360)
        self.speed = 0.0
        self.cruise = rng.uniform(8.0, 14.0)  # m/s, 30-50 km/h in town
        self.grid_deg = rng.uniform(0, 90)
        self.waypoints: list[XY] = []
        self.arrived = False

    def drive_to(self, goal: XY) -> None:
        self.waypoints = street_route(self.rng, self.area, (self.x, self.y), goal, self.grid_deg)
        self.arrived = False

    def roam(self) -> None:
        self.drive_to(self.area.random_point(self.rng))

    def advance(self, dt: float) -> None:
        """Move `dt` simulated seconds along the route."""
        if not self.waypoints:
            self.speed = max(0.0, self.speed - 2 * ACCEL_M_S2 * dt)
            return
        tx, ty = self.waypoints[0]
        # Slow enough to take the next corner (v^2 = 2 a d), never below walking pace.
        limit = min(self.cruise, math.sqrt(2 * ACCEL_M_S2 * math.hypot(tx - self.x, ty - self.y)) + 2.5)
        self.speed = min(limit, self.speed + ACCEL_M_S2 * dt)
        travel = self.speed * dt
        while self.waypoints and travel > 0:
            tx, ty = self.waypoints[0]
            distance = math.hypot(tx - self.x, ty - self.y)
            if distance <= travel:
                self.x, self.y = tx, ty
                travel -= distance
                self.waypoints.pop(0)
            else:
                self.x += (tx - self.x) / distance * travel
                self.y += (ty - self.y) / distance * travel
                travel = 0.0
        if self.waypoints:
            tx, ty = self.waypoints[0]
            self._turn_towards(math.degrees(math.atan2(tx - self.x, ty - self.y)) % 360, dt)
        else:
            self.arrived = True

    def _turn_towards(self, bearing: float, dt: float) -> None:
        """The reported heading swings round at a bounded rate, as a vehicle's does."""
        delta = (bearing - self.heading + 540) % 360 - 180
        step = max(-TURN_DEG_PER_S * dt, min(TURN_DEG_PER_S * dt, delta))
        self.heading = (self.heading + step) % 360

    def ping(self) -> dict[str, Any]:
        """The driver socket's `ping` frame for where the vehicle is now."""
        lon, lat = self.area.to_lonlat(self.x, self.y)
        return {
            "type": "ping",
            "lat": round(lat, 6),
            "lon": round(lon, 6),
            "heading": round(self.heading, 1),
            "speed": round(self.speed, 2),
            "accuracy": round(self.rng.uniform(3, 12), 1),
            "ts": time.time(),
        }
