"""The position writer: pings reach PostGIS in batches — latest position per driver (upsert)
and a breadcrumb trail thinned to one point per driver per MOVEHUB_TRAIL_MIN_INTERVAL_S.

It runs as an asyncio task beside the gateway's ping batcher (every replica writes the pings
it received; the upsert keeps the newest, the trail's primary key makes a retry harmless).
One statement per table per flush: arrays unnested server-side (COPY is refused on tables
with row-level security).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import text

from persistence.config import Settings
from persistence.session import SYSTEM, tenant_session

log = structlog.get_logger("movehub.positions")

_COLUMNS = ("driver_id", "org_id", "recorded_at", "lat", "lon", "heading", "speed", "accuracy")
_LATEST = text("""
INSERT INTO driver_positions (driver_id, org_id, location, heading, speed, accuracy,
                              recorded_at, updated_at)
SELECT driver_id, org_id, ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography, heading, speed,
       accuracy, recorded_at, now()
FROM unnest(CAST(:driver_id AS uuid[]), CAST(:org_id AS uuid[]),
            CAST(:recorded_at AS timestamptz[]), CAST(:lat AS float8[]), CAST(:lon AS float8[]),
            CAST(:heading AS float4[]), CAST(:speed AS float4[]), CAST(:accuracy AS float4[]))
  AS r(driver_id, org_id, recorded_at, lat, lon, heading, speed, accuracy)
WHERE EXISTS (SELECT 1 FROM drivers d WHERE d.id = r.driver_id)
ON CONFLICT (driver_id) DO UPDATE SET location = excluded.location, heading = excluded.heading,
  speed = excluded.speed, accuracy = excluded.accuracy, recorded_at = excluded.recorded_at,
  updated_at = now()
WHERE driver_positions.recorded_at < excluded.recorded_at
""")
_TRAIL = text("""
INSERT INTO driver_breadcrumbs (driver_id, org_id, recorded_at, location, heading, speed,
                                accuracy)
SELECT driver_id, org_id, recorded_at, ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography,
       heading, speed, accuracy
FROM unnest(CAST(:driver_id AS uuid[]), CAST(:org_id AS uuid[]),
            CAST(:recorded_at AS timestamptz[]), CAST(:lat AS float8[]), CAST(:lon AS float8[]),
            CAST(:heading AS float4[]), CAST(:speed AS float4[]), CAST(:accuracy AS float4[]))
  AS r(driver_id, org_id, recorded_at, lat, lon, heading, speed, accuracy)
WHERE EXISTS (SELECT 1 FROM drivers d WHERE d.id = r.driver_id)
ON CONFLICT DO NOTHING
""")


def _columns(pings: list[dict[str, Any]]) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {name: [] for name in _COLUMNS}
    for ping in pings:
        for name in _COLUMNS:
            value = ping.get(name)
            if name == "recorded_at":
                value = datetime.fromtimestamp(ping["ts"], UTC)
            columns[name].append(str(value) if name in ("driver_id", "org_id") else value)
    return columns


class PositionWriter:
    """Collects accepted pings; `flush` writes them in two statements."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._latest: dict[str, dict[str, Any]] = {}
        self._trail: list[dict[str, Any]] = []
        self._last_crumb: dict[str, float] = {}
        self._last_late: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self.written = 0

    def add(self, pings: list[dict[str, Any]]) -> None:
        gap = self.settings.trail_min_interval_s
        for ping in pings:
            driver = ping["driver_id"]
            self._latest[driver] = ping
            if ping["ts"] - self._last_crumb.get(driver, 0.0) >= gap:
                self._last_crumb[driver] = ping["ts"]
                self._trail.append(ping)

    def add_late(self, pings: list[dict[str, Any]]) -> None:
        """Pings older than their driver's last accepted one (an offline queue sent on
        reconnect): breadcrumbs only, never the latest position. Thinned like the live trail,
        per driver among the late ones (the trail's key makes a repeat harmless)."""
        gap = self.settings.trail_min_interval_s
        for ping in pings:
            driver = ping["driver_id"]
            last = self._last_late.get(driver)
            if last is None or abs(ping["ts"] - last) >= gap:
                self._last_late[driver] = ping["ts"]
                self._trail.append(ping)

    async def flush(self) -> int:
        latest, self._latest = list(self._latest.values()), {}
        trail, self._trail = self._trail, []
        if not latest and not trail:
            return 0
        async with tenant_session(SYSTEM) as session:
            if latest:
                await session.execute(_LATEST, _columns(latest))
            if trail:
                await session.execute(_TRAIL, _columns(trail))
        self.written += len(trail)
        return len(trail)

    def forget(self, driver_id: str) -> None:
        self._last_crumb.pop(driver_id, None)
        self._last_late.pop(driver_id, None)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.settings.trail_flush_s)
            try:
                await self.flush()
            except Exception:  # the database may be away for a moment: keep serving sockets
                log.exception("positions.flush_failed")

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="position-writer")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await self.flush()
