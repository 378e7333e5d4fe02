"""The per-process ping micro-batcher: driver sockets hand in accepted pings, and every
MOVEHUB_INGEST_BATCH_MS one flush sends them to the fleet with ONE `Fleet.ingest` call per
shard (never one per ping), publishes arrival events on the org streams, the moved drivers on
the position bus, and queues the pings for the position writer. `Fleet.ingest` routes each ping
with one dict lookup in its cached slot table; pings whose slot is moving come back after the
move and go to the new owner within the same flush, so the next flush never overtakes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import deque
from typing import Any

import numpy as np
import structlog

from dispatch.tracking import flows as tracking_flows
from gateway.realtime.bus import PositionBus
from persistence import events, metrics
from persistence.config import Settings
from persistence.positions import PositionWriter

log = structlog.get_logger("movehub.realtime.batcher")
ALERT_SWEEP_S = 5.0


def position_diff(ping: dict[str, Any]) -> dict[str, Any]:
    """A board tick's view of one driver (with the ping's benchmark stamp, if any)."""
    diff = {
        "id": ping["driver_id"],
        "lat": ping["lat"],
        "lon": ping["lon"],
        "heading": ping.get("heading"),
        "speed": ping.get("speed"),
        "online": True,
        "status": ping.get("status") or "idle",
        "ts": ping["ts"],
    }
    if "rx" in ping:
        diff["rx"] = ping["rx"]
    return diff


class IngestStats:
    """Pings applied and ingest-to-state latencies (device ts to shard state), for benchmarks."""

    def __init__(self, latencies: bool) -> None:
        self.latencies = latencies  # per-ping samples: only when the stats route is on
        self.reset()

    def reset(self) -> None:
        self.applied = 0
        self.flushes = 0
        self.shard_calls = 0
        self.latencies_ms: deque[float] = deque(maxlen=500_000)
        self.flush_ms: deque[float] = deque(maxlen=100_000)
        self.loop_lag_ms: deque[float] = deque(maxlen=100_000)
        self.since = time.time()

    def record(self, pings: list[dict[str, Any]], shard_calls: int) -> None:
        now = time.time()
        self.applied += len(pings)
        self.flushes += 1
        self.shard_calls += shard_calls
        if self.latencies:
            self.latencies_ms.extend((now - p["ts"]) * 1000 for p in pings)

    def summary(self) -> dict[str, Any]:
        samples = np.fromiter(self.latencies_ms, dtype=float)
        pct = (lambda q: round(float(np.percentile(samples, q)), 2)) if samples.size else (lambda q: None)
        flush = np.fromiter(self.flush_ms, dtype=float)
        lag = np.fromiter(self.loop_lag_ms, dtype=float)
        return {
            "applied": self.applied,
            "seconds": round(time.time() - self.since, 3),
            "flush_p99_ms": round(float(np.percentile(flush, 99)), 2) if flush.size else None,
            "flush_max_ms": round(float(flush.max()), 2) if flush.size else None,
            "loop_lag_p99_ms": round(float(np.percentile(lag, 99)), 2) if lag.size else None,
            "loop_lag_max_ms": round(float(lag.max()), 2) if lag.size else None,
            "flushes": self.flushes,
            "shard_calls": self.shard_calls,
            "p50_ms": pct(50),
            "p99_ms": pct(99),
            "samples": int(samples.size),
        }


class PingBatcher:
    def __init__(self, settings: Settings, fleet: Any, bus: PositionBus, writer: PositionWriter) -> None:
        self.settings, self.fleet, self.bus, self.writer = settings, fleet, bus, writer
        self.pending: list[dict[str, Any]] = []
        self.late = 0  # pings taken into the trail only
        self._last_ts: dict[str, float] = {}  # driver id -> newest accepted ping ts
        self.stats = IngestStats(settings.realtime_stats_enabled)
        self._tasks: list[asyncio.Task[None]] = []

    def submit(self, ping: dict[str, Any]) -> None:
        self.pending.append(ping)

    def submit_late(self, ping: dict[str, Any]) -> None:
        """A ping older than its driver's last accepted one (an offline backlog arriving after
        a newer position): into the breadcrumb trail only, never the shards, the boards' ticks
        or the latest position."""
        self.late += 1
        self.writer.add_late([ping])

    def last_accepted(self, driver_id: str) -> float:
        """The newest ping ts this process took from the driver (0 if none): a reconnecting
        driver's backlog is compared with it, not with a fresh socket's nothing."""
        return self._last_ts.get(driver_id, 0.0)

    def accepted(self, driver_id: str, ts: float) -> None:
        self._last_ts[driver_id] = ts

    async def ingest_direct(self, ping: dict[str, Any]) -> None:
        """The benchmark's baseline: one shard call per ping, awaited by the socket."""
        arrivals = await self.fleet.ingest([ping]) if self.fleet is not None else []
        self.stats.record([ping], 1)
        await self._after([ping], arrivals)

    async def flush(self) -> None:
        pings, self.pending = self.pending, []
        if not pings:
            return
        started = time.perf_counter()
        arrivals: list[dict[str, Any]] = []
        calls = 0
        if self.fleet is not None:
            calls = -self.fleet.ingest_calls
            arrivals = await self.fleet.ingest(pings)
            calls += self.fleet.ingest_calls
        self.stats.record(pings, calls)
        await self._after(pings, arrivals)
        elapsed = time.perf_counter() - started
        self.stats.flush_ms.append(elapsed * 1000)
        metrics.INGEST_BATCH.observe(len(pings))
        metrics.INGEST_FLUSH.observe(elapsed)

    async def _after(self, pings: list[dict[str, Any]], arrivals: list[dict[str, Any]]) -> None:
        for arrival in arrivals:  # driver.arrived and job.eta (its data is the board's)
            await events.publish(
                uuid.UUID(arrival["org_id"]),
                {
                    "type": arrival["type"],
                    "ts": arrival["ts"],
                    "data": arrival.get("data")
                    or {k: arrival[k] for k in ("driver_id", "booking_id", "stop")},
                },
            )
        latest: dict[str, dict[str, Any]] = {}
        for ping in pings:
            latest[ping["driver_id"]] = ping
        by_org: dict[str, list[dict[str, Any]]] = {}
        for ping in latest.values():
            by_org.setdefault(ping["org_id"], []).append(position_diff(ping))
        await self.bus.publish(by_org)
        self.writer.add(pings)
        if arrivals:
            try:  # the customer's "crew near" and "crew arrived" (each once, via the outbox)
                await tracking_flows.on_fleet_events(arrivals, self.settings)
            except Exception:
                log.exception("ingest.tracking_notices_failed")

    async def driver_gone(self, org_id: uuid.UUID, driver_id: uuid.UUID) -> None:
        """A driver's socket closed: boards show it offline at once."""
        self.writer.forget(str(driver_id))
        await self.bus.publish({str(org_id): [{"id": str(driver_id), "online": False}]})

    async def _run(self) -> None:
        period = self.settings.ingest_batch_ms / 1000
        while True:
            started = time.monotonic()
            try:
                await self.flush()
            except Exception:  # a shard restarting: these pings are lost, the next ones land
                log.exception("ingest.flush_failed")
            await asyncio.sleep(max(0.0, period - (time.monotonic() - started)))

    async def _sweep_alerts(self) -> None:
        """Offline and running-late alerts; the shards hand each one out once, so exactly one
        replica publishes it."""
        while True:
            await asyncio.sleep(ALERT_SWEEP_S)
            try:
                for alert in await self.fleet.sweep_alerts(self.settings.late_grace_s):
                    await events.publish(uuid.UUID(alert.pop("org_id")), alert)
            except Exception:
                log.exception("ingest.alert_sweep_failed")

    async def _watch_loop(self) -> None:
        """How late a 10 ms sleep wakes up: the event loop's stalls, for the stats route."""
        while True:
            started = time.perf_counter()
            await asyncio.sleep(0.01)
            self.stats.loop_lag_ms.append((time.perf_counter() - started) * 1000 - 10)

    def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._run(), name="ping-batcher"))
        if self.settings.realtime_stats_enabled:
            self._tasks.append(asyncio.create_task(self._watch_loop(), name="loop-lag"))
        if self.fleet is not None and hasattr(self.fleet, "sweep_alerts"):
            self._tasks.append(asyncio.create_task(self._sweep_alerts(), name="alert-sweep"))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):
            await self.flush()
