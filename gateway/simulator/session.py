"""One simulated driver's socket session on /ws/driver: hello, pings, status changes through a
job, and reconnecting with backoff after every close the protocol does not call final."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from gateway.simulator.motion import Motion
from gateway.simulator.roster import SimDriver, driver_token
from persistence.config import Settings
from persistence.statuses import ACTIVE_JOB_STATUSES, DRIVER_JOB_STATUSES, BookingStatus

S = BookingStatus
# Seconds of simulated time a crew spends at each stage (divided by --speedup).
DWELL_S = {S.ARRIVED: 30.0, S.LOADING: 180.0, S.UNLOADING: 150.0}
# A job in the driver's hands, from assigned to completed; it still needs work while active.
FLOW: tuple[str, ...] = (S.ASSIGNED, *DRIVER_JOB_STATUSES)
WORKABLE = frozenset(ACTIVE_JOB_STATUSES)
# Close codes docs/realtime-protocol.md calls final: connecting again the same way cannot
# help, so this driver stops. After any other code (1006, 1011, 1012, 1013, 4408, 4429, ...)
# it reconnects with backoff.
FINAL_CLOSES = {
    1003: "bad frame",
    1009: "message too big",
    4400: "protocol error",
    4401: "authentication refused",
    4403: "wrong role",
    4410: "session ended",
}


def reconnects_after(code: int) -> bool:
    """Whether a driver whose socket closed with `code` connects again."""
    return code not in FINAL_CLOSES


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


class DriverSession:
    """One simulated driver: a socket, a ping loop, a reader and a job worker."""

    def __init__(
        self,
        driver: SimDriver,
        options: argparse.Namespace,
        stats: Stats,
        rng: random.Random,
        settings: Settings,
    ) -> None:
        self.driver, self.options, self.stats, self.settings = driver, options, stats, settings
        home = driver.area.to_m(*driver.home)
        if not driver.area.contains(*home):
            home = driver.area.random_point(rng)
        self.motion = Motion(driver.area, home, rng)
        self.arrived = asyncio.Event()  # set by the ping loop once the motion reached its goal
        self.jobs: dict[str, dict[str, Any]] = {}  # booking id -> job, in arrival order
        self.job_arrived = asyncio.Event()
        self.replies: dict[str, asyncio.Future[dict[str, Any]]] = {}

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 1.0
        url = self.options.url.rstrip("/").replace("http", "ws", 1) + "/ws/driver"
        while not stop.is_set():
            token = driver_token(self.driver, self.settings)
            try:
                async with connect(
                    url,
                    additional_headers={"Authorization": f"Bearer {token}"},
                    compression=None,
                    open_timeout=15,
                ) as socket:
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
        tasks = [
            asyncio.create_task(self._read(socket)),
            asyncio.create_task(self._drive(socket)),
            asyncio.create_task(self._work(socket)),
            asyncio.create_task(stop.wait()),
        ]
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
                self.jobs = {
                    job["booking_id"]: job for job in frame.get("jobs", []) if job.get("status") in WORKABLE
                }
                self.job_arrived.set()
            elif kind in ("job.assigned", "job.changed", "job.cancelled"):
                job = frame["job"]
                self.stats.jobs_received += kind == "job.assigned"
                if kind == "job.cancelled" or job.get("status") not in WORKABLE:
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
            if self.motion.arrived:
                self.arrived.set()
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
        status = job.get("status", S.ASSIGNED)
        if status not in WORKABLE:
            return  # completed, cancelled or otherwise out of the driver's hands
        for following in FLOW[FLOW.index(status) + 1 :]:
            if job["booking_id"] not in self.jobs:
                return  # cancelled meanwhile
            await self._do_stage(job, status)
            if not await self._set_status(socket, job["booking_id"], following):
                return
            status = following
        self.stats.jobs_completed += 1

    async def _do_stage(self, job: dict[str, Any], status: str) -> None:
        """What the crew does while a job is in `status` before moving it on."""
        if status in (S.EN_ROUTE, S.IN_TRANSIT):
            stop = job["pickup"] if status == S.EN_ROUTE else job["dropoff"]
            self.arrived.clear()
            self.motion.drive_to(self.driver.area.to_m(stop["lon"], stop["lat"]))
            await self.arrived.wait()
        elif status in DWELL_S:
            await asyncio.sleep(DWELL_S[S(status)] / self.options.speedup)

    async def _set_status(self, socket: ClientConnection, booking_id: str, status: str) -> bool:
        ref = uuid.uuid4().hex[:12]
        reply: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.replies[ref] = reply
        await socket.send(
            orjson.dumps({"type": "status", "booking_id": booking_id, "status": status, "ref": ref}).decode()
        )
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
