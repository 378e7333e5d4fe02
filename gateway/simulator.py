"""`movehub simulate`: demo drivers on real /ws/driver sockets, driving plausible routes inside
their organization's service area, taking assigned jobs through en_route -> arrived ->
loading -> in_transit -> unloading -> completed, with a live progress table.

A local demo tool: it reads the demo drivers from the database and mints their access tokens
with the server's own secret (a real driver app signs in with a one-time code instead).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import random
import signal
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from geoalchemy2.shape import to_shape
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from shapely.prepared import prep
from sqlalchemy import select
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from dispatch.auth.tokens import issue_access_token
from gateway.seed import MOVERS
from persistence.config import get_settings
from persistence.models import Driver, Organization, User
from persistence.session import SYSTEM, Caller, dispose_engine, tenant_session

M_PER_DEG_LAT = 110_540.0
M_PER_DEG_LON_EQUATOR = 111_320.0
ACCEL_M_S2 = 1.5
TURN_DEG_PER_S = 90.0
# Seconds of simulated time a crew spends at each stage (divided by --speedup).
DWELL_S = {"arrived": 30.0, "loading": 180.0, "unloading": 150.0}
FLOW = ("assigned", "en_route", "arrived", "loading", "in_transit", "unloading", "completed")
# Close codes docs/realtime-protocol.md calls final: connecting again the same way cannot
# help, so this driver stops. After any other code (1006, 1011, 1012, 1013, 4408, 4429, ...)
# it reconnects with backoff.
FINAL_CLOSES = {1003: "bad frame", 1009: "message too big", 4400: "protocol error",
                4401: "authentication refused", 4403: "wrong role", 4410: "session ended"}


def reconnects_after(code: int) -> bool:
    """Whether a driver whose socket closed with `code` connects again."""
    return code not in FINAL_CLOSES


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

    def to_m(self, lon: float, lat: float) -> tuple[float, float]:
        return ((lon - self.lon0) * M_PER_DEG_LON_EQUATOR * math.cos(math.radians(self.lat0)),
                (lat - self.lat0) * M_PER_DEG_LAT)

    def to_lonlat(self, x: float, y: float) -> tuple[float, float]:
        return (self.lon0 + x / (M_PER_DEG_LON_EQUATOR * math.cos(math.radians(self.lat0))),
                self.lat0 + y / M_PER_DEG_LAT)

    def contains(self, x: float, y: float) -> bool:
        return bool(self._inside.contains(Point(*self.to_lonlat(x, y))))

    def random_point(self, rng: random.Random) -> tuple[float, float]:
        minx, miny, maxx, maxy = self.shape.bounds
        for _ in range(200):
            x, y = self.to_m(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
            if self.contains(x, y):
                return x, y
        return 0.0, 0.0


@dataclass
class SimDriver:
    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    area: Area
    home: tuple[float, float]  # lon, lat


@dataclass
class Stats:
    drivers: int = 0
    connected: int = 0
    pings: int = 0
    jobs_received: int = 0
    jobs_completed: int = 0
    statuses_ok: int = 0
    auto_assigned: int = 0
    reconnects: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)
    recent: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=20))
    by_org: Counter[str] = field(default_factory=Counter)

    def pings_per_s(self) -> float:
        """Over the last few seconds (samples taken by the display)."""
        now = time.monotonic()
        self.recent.append((now, self.pings))
        (t0, p0), (t1, p1) = self.recent[0], self.recent[-1]
        return (p1 - p0) / (t1 - t0) if t1 > t0 else 0.0


def street_route(rng: random.Random, area: Area, start: tuple[float, float],
                 goal: tuple[float, float], grid_deg: float) -> list[tuple[float, float]]:
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
    """A vehicle gliding along a polyline: speeds up, slows for corners, turns smoothly."""

    def __init__(self, area: Area, position: tuple[float, float], rng: random.Random) -> None:
        self.area, self.rng = area, rng
        self.x, self.y = position
        self.heading = rng.uniform(0, 360)
        self.speed = 0.0
        self.cruise = rng.uniform(8.0, 14.0)  # m/s, 30-50 km/h in town
        self.grid_deg = rng.uniform(0, 90)
        self.waypoints: list[tuple[float, float]] = []
        self.arrived = asyncio.Event()

    def drive_to(self, goal: tuple[float, float]) -> None:
        self.waypoints = street_route(self.rng, self.area, (self.x, self.y), goal, self.grid_deg)
        self.arrived.clear()

    def roam(self) -> None:
        self.drive_to(self.area.random_point(self.rng))

    def advance(self, dt: float) -> None:
        """Move `dt` simulated seconds along the route."""
        if not self.waypoints:
            self.speed = max(0.0, self.speed - 2 * ACCEL_M_S2 * dt)
            return
        tx, ty = self.waypoints[0]
        # Slow enough to take the next corner (v^2 = 2 a d), never below walking pace.
        limit = min(self.cruise, math.sqrt(2 * ACCEL_M_S2 * math.hypot(tx - self.x, ty - self.y))
                    + 2.5)
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
            self.arrived.set()

    def _turn_towards(self, bearing: float, dt: float) -> None:
        """The reported heading swings round at a bounded rate, as a vehicle's does."""
        delta = (bearing - self.heading + 540) % 360 - 180
        step = max(-TURN_DEG_PER_S * dt, min(TURN_DEG_PER_S * dt, delta))
        self.heading = (self.heading + step) % 360

    def ping(self) -> dict[str, Any]:
        lon, lat = self.area.to_lonlat(self.x, self.y)
        return {"type": "ping", "lat": round(lat, 6), "lon": round(lon, 6),
                "heading": round(self.heading, 1), "speed": round(self.speed, 2),
                "accuracy": round(self.rng.uniform(3, 12), 1), "ts": time.time()}


class DriverSession:
    """One simulated driver: a socket, a ping loop, a reader and a job worker."""

    def __init__(self, driver: SimDriver, options: argparse.Namespace, stats: Stats,
                 rng: random.Random) -> None:
        self.driver, self.options, self.stats = driver, options, stats
        home = driver.area.to_m(*driver.home)
        if not driver.area.contains(*home):
            home = driver.area.random_point(rng)
        self.motion = Motion(driver.area, home, rng)
        self.jobs: dict[str, dict[str, Any]] = {}  # booking id -> job, in arrival order
        self.job_arrived = asyncio.Event()
        self.replies: dict[str, asyncio.Future[dict[str, Any]]] = {}

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 1.0
        url = self.options.url.rstrip("/").replace("http", "ws", 1) + "/ws/driver"
        while not stop.is_set():
            token = issue_access_token(Caller(role="driver", user_id=self.driver.user_id,
                                              org_id=self.driver.area.org_id,
                                              driver_id=self.driver.id))
            try:
                async with connect(url, additional_headers={"Authorization": f"Bearer {token}"},
                                   compression=None, open_timeout=15) as socket:
                    self.stats.connected += 1
                    backoff = 1.0
                    try:
                        await self._session(socket, stop)
                    finally:
                        self.stats.connected -= 1
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else 1006
                self.stats.errors[f"closed {code}"] += 1
                if not reconnects_after(code):
                    return
            except (OSError, TimeoutError, InvalidHandshake) as exc:
                self.stats.errors[type(exc).__name__] += 1
            if stop.is_set():
                return
            self.stats.reconnects += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff)
            backoff = min(backoff * 2, 15.0)

    async def _session(self, socket: ClientConnection, stop: asyncio.Event) -> None:
        tasks = [asyncio.create_task(self._read(socket)), asyncio.create_task(self._drive(socket)),
                 asyncio.create_task(self._work(socket)), asyncio.create_task(stop.wait())]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # a closed socket surfaces here as ConnectionClosed
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for reply in self.replies.values():
                reply.cancel()
            self.replies.clear()

    async def _read(self, socket: ClientConnection) -> None:
        async for raw in socket:
            frame = orjson.loads(raw)
            kind = frame.get("type")
            if kind == "hello":
                self.jobs = {job["booking_id"]: job for job in frame.get("jobs", [])
                             if job.get("status") in FLOW[:-1]}
                self.job_arrived.set()
            elif kind in ("job.assigned", "job.changed", "job.cancelled"):
                job = frame["job"]
                self.stats.jobs_received += kind == "job.assigned"
                if kind == "job.cancelled" or job.get("status") not in FLOW[:-1]:
                    self.jobs.pop(job["booking_id"], None)
                elif job["booking_id"] in self.jobs:
                    self.jobs[job["booking_id"]].update(job)  # the worker holds this dict
                else:
                    self.jobs[job["booking_id"]] = job
                self.job_arrived.set()
            elif kind in ("status.ok", "error") and frame.get("ref") in self.replies:
                self.replies.pop(frame["ref"]).set_result(frame)
            elif kind == "error":
                self.stats.errors[f"error {frame.get('code')}"] += 1

    async def _drive(self, socket: ClientConnection) -> None:
        interval = 1.0 / self.options.rate
        last = time.monotonic()
        while True:
            now = time.monotonic()
            self.motion.advance((now - last) * self.options.speedup)
            last = now
            await socket.send(orjson.dumps(self.motion.ping()).decode())
            self.stats.pings += 1
            self.stats.by_org[self.driver.area.code] += 1
            await asyncio.sleep(interval * random.uniform(0.9, 1.1))

    async def _work(self, socket: ClientConnection) -> None:
        """Roam when free; take jobs one at a time, resuming from the status the server has."""
        while True:
            job = next(iter(self.jobs.values()), None)
            if job is None:
                if not self.motion.waypoints:
                    self.motion.roam()
                self.job_arrived.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.job_arrived.wait(), 5.0)
                continue
            await self._run_job(socket, job)
            self.jobs.pop(job["booking_id"], None)

    async def _run_job(self, socket: ClientConnection, job: dict[str, Any]) -> None:
        status = job.get("status", "assigned")
        if status not in FLOW[:-1]:
            return  # completed, cancelled or otherwise out of the driver's hands
        for following in FLOW[FLOW.index(status) + 1:]:
            if job["booking_id"] not in self.jobs:
                return  # cancelled meanwhile
            await self._do_stage(job, status)
            if not await self._set_status(socket, job["booking_id"], following):
                return
            status = following
        self.stats.jobs_completed += 1

    async def _do_stage(self, job: dict[str, Any], status: str) -> None:
        """What the crew does while a job is in `status` before moving it on."""
        if status in ("en_route", "in_transit"):
            stop = job["pickup"] if status == "en_route" else job["dropoff"]
            self.motion.drive_to(self.driver.area.to_m(stop["lon"], stop["lat"]))
            await self.motion.arrived.wait()
        elif status in DWELL_S:
            await asyncio.sleep(DWELL_S[status] / self.options.speedup)

    async def _set_status(self, socket: ClientConnection, booking_id: str, status: str) -> bool:
        ref = uuid.uuid4().hex[:12]
        reply: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.replies[ref] = reply
        await socket.send(orjson.dumps({"type": "status", "booking_id": booking_id,
                                        "status": status, "ref": ref}).decode())
        try:
            answer = await asyncio.wait_for(reply, 15.0)
        except TimeoutError:
            self.replies.pop(ref, None)
            self.stats.errors["status timeout"] += 1
            return False
        if answer.get("type") != "status.ok":
            code = answer.get("code")
            self.stats.errors[f"status {status}: {code}"] += 1
            # A conflict may only mean the server moved the job on already (a geofence
            # arrival, a dispatcher); carry on. Anything else ends this job for us.
            return code == "conflict"
        self.stats.statuses_ok += 1
        return True


async def load_drivers(codes: list[str], count: int) -> list[SimDriver]:
    """Up to `count` signed-up drivers, spread evenly over the organizations."""
    async with tenant_session(SYSTEM) as session:
        orgs = (await session.scalars(select(Organization).where(Organization.code.in_(codes))
                                      .order_by(Organization.code))).all()
        per_org: list[list[SimDriver]] = []
        for org in orgs:
            area = Area(org.id, org.code, to_shape(org.service_area))
            rows = (await session.execute(
                select(Driver, User.id).join(User, User.id == Driver.user_id)
                .where(Driver.org_id == org.id, Driver.status == "active")
                .order_by(Driver.created_at))).all()
            per_org.append([SimDriver(driver.id, user_id, driver.full_name, area,
                                      (point.x, point.y))
                            for driver, user_id in rows
                            for point in [to_shape(driver.home_base)]])
    chosen: list[SimDriver] = []
    while len(chosen) < count and any(per_org):
        for drivers in per_org:
            if drivers and len(chosen) < count:
                chosen.append(drivers.pop(0))
    return chosen


async def dispatcher_tokens(codes: list[str]) -> dict[str, str]:
    """org code -> an access token of the org's dispatcher (for --auto-assign)."""
    async with tenant_session(SYSTEM) as session:
        rows = (await session.execute(
            select(Organization.code, User.id, Organization.id)
            .join(User, User.org_id == Organization.id)
            .where(Organization.code.in_(codes), User.role == "dispatcher"))).all()
    return {code: issue_access_token(Caller(role="dispatcher", user_id=user_id, org_id=org_id))
            for code, user_id, org_id in rows}


async def auto_assign(options: argparse.Namespace, codes: list[str], stats: Stats,
                      stop: asyncio.Event) -> None:
    """Plays the dispatcher: every few seconds, confirm each org's pending bookings and
    auto-assign the confirmed ones, so the simulated crews have work."""
    async with httpx.AsyncClient(base_url=options.url.rstrip("/") + "/api/v1",
                                 timeout=30) as http:
        while not stop.is_set():
            for code, token in (await dispatcher_tokens(codes)).items():
                headers = {"Authorization": f"Bearer {token}"}
                try:
                    page = await http.get("/bookings", headers=headers, params={
                        "status": ["pending", "confirmed"], "limit": 20,
                        "window_from": datetime.now(UTC).isoformat()})
                    for booking in page.json().get("items", []) if page.is_success else []:
                        if booking["status"] == "pending":
                            await http.post(f"/bookings/{booking['id']}/confirm",
                                            headers=headers)
                        answer = await http.post(f"/bookings/{booking['id']}/assign/auto",
                                                 headers=headers)
                        if answer.status_code == 201:
                            stats.auto_assigned += 1
                        elif answer.status_code != 409:
                            stats.errors[f"auto-assign {answer.status_code} ({code})"] += 1
                except httpx.HTTPError as exc:
                    stats.errors[f"auto-assign {type(exc).__name__}"] += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), options.auto_assign)


def progress_table(stats: Stats, rate: float, final: bool = False) -> Group:
    elapsed = time.monotonic() - stats.started
    table = Table(title="movehub simulate" + (" - summary" if final else ""), show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    table.add_row("elapsed", f"{elapsed:.0f} s")
    table.add_row("drivers connected", f"{stats.connected}/{stats.drivers}")
    table.add_row("pings sent", f"{stats.pings:,}")
    table.add_row("pings/s", f"{stats.pings / max(elapsed, 1e-9):.1f} avg" if final
                  else f"{rate:.1f}")
    table.add_row("jobs received", str(stats.jobs_received))
    table.add_row("jobs completed", str(stats.jobs_completed))
    table.add_row("status changes ok", str(stats.statuses_ok))
    table.add_row("auto-assigned", str(stats.auto_assigned))
    table.add_row("reconnects", str(stats.reconnects))
    table.add_row("errors", str(sum(stats.errors.values())))
    parts: list[Any] = [table]
    if stats.errors:
        errors = Table(title="errors", show_header=False)
        for name, count in stats.errors.most_common(6):
            errors.add_row(name, str(count))
        parts.append(errors)
    if stats.by_org:
        orgs = Table(title="pings per organization", show_header=False)
        for code, count in sorted(stats.by_org.items()):
            orgs.add_row(code, f"{count:,}")
        parts.append(orgs)
    return Group(*parts)


async def simulate(options: argparse.Namespace, stats: Stats, console: Console) -> None:
    codes = [options.org] if options.org else [code for _, code, _, _ in MOVERS]
    drivers = await load_drivers(codes, options.drivers)
    if not drivers:
        raise SystemExit(f"no drivers with accounts in {', '.join(codes)}: run `movehub seed`")
    stats.drivers = len(drivers)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError):
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    rng = random.Random(options.seed)
    tasks = [asyncio.create_task(DriverSession(driver, options, stats, rng).run(stop))
             for driver in drivers]
    if options.auto_assign > 0:
        tasks.append(asyncio.create_task(auto_assign(options, codes, stats, stop)))
    console.print(f"driving {len(drivers)} drivers of {', '.join(codes)} against {options.url}")
    deadline = time.monotonic() + options.duration if options.duration > 0 else math.inf
    try:
        with Live(progress_table(stats, 0.0), console=console, refresh_per_second=2,
                  transient=True) as live:
            while not stop.is_set() and time.monotonic() < deadline:
                live.update(progress_table(stats, stats.pings_per_s()))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.5)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(NotImplementedError):
            loop.remove_signal_handler(signal.SIGTERM)


def run_simulator(args: argparse.Namespace) -> None:
    """Entry point of `movehub simulate` (and of `movehub up`, in a child process)."""
    console = Console()
    stats = Stats()
    get_settings()  # fail early on a bad .env, before any socket opens

    async def main() -> None:
        try:
            await simulate(args, stats, console)
        finally:
            await dispose_engine()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    console.print(progress_table(stats, 0.0, final=True))


def main(argv: list[str] | None = None) -> None:
    """`python -m gateway.simulator ...`, the same as `movehub simulate ...` (options there)."""
    import sys

    from gateway.cli import main as movehub

    movehub(["simulate", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
