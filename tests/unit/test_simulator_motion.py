"""The simulator's motion model without a database: the metric frame, street-grid routes that
stay inside the service area, and a vehicle that accelerates, keeps to town speeds, turns at a
bounded rate and arrives."""

from __future__ import annotations

import itertools
import math
import random
import uuid

import pytest
from shapely.geometry import Polygon, box

from gateway.simulator.motion import (
    ACCEL_M_S2,
    TURN_DEG_PER_S,
    Area,
    Motion,
    street_route,
)

BERLIN = box(13.30, 52.45, 13.50, 52.58)  # about 13.6 km x 14.5 km


def area(shape: Polygon = BERLIN) -> Area:
    return Area(uuid.uuid4(), "test", shape)


def near_centre(rng: random.Random, radius_m: float = 3000.0) -> tuple[float, float]:
    distance, bearing = radius_m * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
    return distance * math.cos(bearing), distance * math.sin(bearing)


def test_the_metric_frame_is_centred_and_round_trips() -> None:
    berlin = area()
    assert berlin.to_m(berlin.lon0, berlin.lat0) == (0.0, 0.0)
    lon, lat = berlin.to_lonlat(*berlin.to_m(13.41, 52.53))
    assert (lon, lat) == (pytest.approx(13.41, abs=1e-9), pytest.approx(52.53, abs=1e-9))
    # One degree of latitude is about 110 km; a degree of longitude shrinks with cos(lat).
    assert berlin.to_m(berlin.lon0, berlin.lat0 + 0.01)[1] == pytest.approx(1105.4)
    east = berlin.to_m(berlin.lon0 + 0.01, berlin.lat0)[0]
    assert east == pytest.approx(1113.2 * math.cos(math.radians(berlin.lat0)))


def test_random_points_fall_inside_the_area() -> None:
    # An L-shaped area, so its bounding box has room outside it.
    shape = Polygon(
        [(13.3, 52.45), (13.5, 52.45), (13.5, 52.5), (13.35, 52.5), (13.35, 52.58), (13.3, 52.58)]
    )
    l_shape, rng = area(shape), random.Random(1)
    for _ in range(200):
        assert l_shape.contains(*l_shape.random_point(rng))
    assert not l_shape.contains(*l_shape.to_m(13.45, 52.55))


@pytest.mark.parametrize("seed", range(20))
def test_a_street_route_runs_along_the_grid_and_stays_inside(seed: int) -> None:
    berlin, rng = area(), random.Random(seed)
    # Both ends within 3 km of the centre: the block's corners lie in the circle over the
    # route's diagonal, so within 6 km of the centre, inside the area (6.8 km each way).
    start, goal = near_centre(rng), near_centre(rng)
    grid_deg = rng.uniform(0, 90)
    route = street_route(rng, berlin, start, goal, grid_deg)
    assert route[-1] == goal
    assert all(berlin.contains(*corner) for corner in route)
    assert len(route) == 3  # two corners, then the goal
    # Two legs at right angles, the first along the grid's direction.
    legs = [(b[0] - a[0], b[1] - a[1]) for a, b in itertools.pairwise([start, *route])]
    along = (math.cos(math.radians(grid_deg)), math.sin(math.radians(grid_deg)))
    assert abs(legs[0][0] * along[1] - legs[0][1] * along[0]) < 1e-6 * (1 + math.hypot(*legs[0]))
    assert abs(legs[0][0] * legs[1][0] + legs[0][1] * legs[1][1]) < 1e-3
    assert abs(legs[1][0] * legs[2][0] + legs[1][1] * legs[2][1]) < 1e-3


def test_a_route_with_no_corner_inside_runs_straight() -> None:
    # A thin diagonal strip: any corner of a grid route leaves it.
    strip = Polygon([(13.30, 52.45), (13.302, 52.45), (13.502, 52.58), (13.50, 52.58)])
    diagonal = area(strip)
    start = diagonal.to_m(13.3015, 52.4505)
    goal = diagonal.to_m(13.5005, 52.5795)
    assert street_route(random.Random(3), diagonal, start, goal, 0.0) == [goal]


def test_a_vehicle_drives_to_its_goal_within_town_speeds() -> None:
    berlin, rng = area(), random.Random(5)
    motion = Motion(berlin, (0.0, 0.0), rng)
    goal = (2000.0, -1500.0)
    motion.drive_to(goal)
    assert not motion.arrived and motion.speed == 0.0
    speeds, headings = [], [motion.heading]
    for _ in range(3600):
        previous = motion.speed
        motion.advance(0.5)
        assert motion.speed <= max(motion.cruise, previous) + 1e-9
        assert motion.speed - previous <= ACCEL_M_S2 * 0.5 + 1e-9
        speeds.append(motion.speed)
        headings.append(motion.heading)
        if motion.arrived:
            break
    assert motion.arrived
    assert (motion.x, motion.y) == goal
    assert max(speeds) == pytest.approx(motion.cruise)
    assert 8.0 <= motion.cruise <= 14.0
    for before, after in itertools.pairwise(headings):
        turn = abs((after - before + 180) % 360 - 180)
        assert turn <= TURN_DEG_PER_S * 0.5 + 1e-9


def test_a_vehicle_without_a_route_slows_to_a_stop() -> None:
    motion = Motion(area(), (0.0, 0.0), random.Random(2))
    motion.speed = 10.0
    motion.advance(1.0)
    assert motion.speed == pytest.approx(10.0 - 2 * ACCEL_M_S2)
    motion.advance(10.0)
    assert motion.speed == 0.0
    assert (motion.x, motion.y) == (0.0, 0.0)
    assert not motion.arrived  # it never had a route


def test_a_new_route_clears_arrival_and_roaming_stays_inside() -> None:
    berlin = area()
    motion = Motion(berlin, (0.0, 0.0), random.Random(9))
    motion.drive_to((10.0, 0.0))
    motion.advance(60.0)
    assert motion.arrived
    motion.roam()
    assert not motion.arrived
    assert motion.waypoints and all(berlin.contains(*corner) for corner in motion.waypoints)


def test_a_ping_is_the_driver_socket_frame_for_the_position() -> None:
    berlin = area()
    motion = Motion(berlin, berlin.to_m(13.42, 52.51), random.Random(4))
    ping = motion.ping()
    assert set(ping) == {"type", "lat", "lon", "heading", "speed", "accuracy", "ts"}
    assert ping["type"] == "ping"
    assert (ping["lon"], ping["lat"]) == (pytest.approx(13.42, abs=1e-6), pytest.approx(52.51, abs=1e-6))
    assert 3 <= ping["accuracy"] <= 12
    assert 0 <= ping["heading"] < 360
