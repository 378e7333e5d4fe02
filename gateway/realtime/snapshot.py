"""A board's snapshot: the org from PostgreSQL, live positions from the fleet shard (or, when
this replica runs without Ray, from the position bus and the last stored positions)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog

from gateway.realtime.reads import board_rows
from persistence.cache import redis_call
from persistence.session import Caller
from persistence.statuses import ACTIVE_JOB_STATUSES, IN_PROGRESS_STATUSES

log = structlog.get_logger("movehub.realtime.snapshot")
ONLINE_WITHIN_S = 60.0
SHARED_PREFIX = "movehub:snapshot:"  # + org:epoch:seq, the frame text, for ttl_s


def _jobs_by_driver(bookings: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each driver's job in hand: in progress first, else the earliest assigned."""
    jobs: dict[str, dict[str, Any]] = {}
    for booking in bookings:  # ordered by window start
        driver = booking["driver_id"]
        if driver is None or booking["status"] not in ACTIVE_JOB_STATUSES:
            continue
        held = jobs.get(driver)
        if held is None or (
            held["status"] not in IN_PROGRESS_STATUSES and booking["status"] in IN_PROGRESS_STATUSES
        ):
            jobs[driver] = {"booking_id": booking["id"], "status": booking["status"]}
    return jobs


async def _shard_view(fleet: Any, org_id: uuid.UUID) -> dict[str, dict[str, Any]]:
    if fleet is None:
        return {}
    try:
        answer = await fleet.snapshot(org_id)
    except Exception:  # a restarting shard: the stored positions still make a board
        log.warning("snapshot.shard_unavailable", org_id=str(org_id))
        return {}
    return {d["id"]: d for d in answer["drivers"] if d.get("last_seen")}


async def build_snapshot(
    caller: Caller, org_id: uuid.UUID, seq: int, fleet: Any, latest: dict[str, dict[str, Any]]
) -> dict[str, Any] | None:
    rows = await board_rows(caller, org_id)
    if rows is None:
        return None
    shard = await _shard_view(fleet, org_id)
    jobs = _jobs_by_driver(rows["bookings"])
    now = time.time()
    drivers = []
    for row in rows["drivers"]:
        driver_id = str(row.id)
        entry: dict[str, Any] = {
            "id": driver_id,
            "name": row.full_name,
            "lat": row.lat,
            "lon": row.lon,
            "heading": row.heading,
            "speed": row.speed,
            "last_seen": row.last_seen,
        }
        live = shard.get(driver_id)
        if live and live["last_seen"] >= (entry["last_seen"] or 0):
            entry.update({k: live[k] for k in ("lat", "lon", "heading", "speed", "last_seen")})
        heard = latest.get(driver_id)
        if heard and "lat" in heard and heard.get("ts", 0) >= (entry["last_seen"] or 0):
            entry.update({k: heard.get(k) for k in ("lat", "lon", "heading", "speed")}, last_seen=heard["ts"])
        entry["online"] = bool(entry["last_seen"] and now - entry["last_seen"] < ONLINE_WITHIN_S)
        if heard is not None and heard.get("online") is False:
            entry["online"] = False
        job = jobs.get(driver_id)
        entry["job"] = job
        entry["status"] = job["status"] if job else ("idle" if row.status == "active" else row.status)
        drivers.append(entry)
    return {
        "type": "snapshot",
        "seq": seq,
        "org": rows["org"],
        "drivers": drivers,
        "trucks": rows["trucks"],
        "bookings": rows["bookings"],
    }


@dataclass(frozen=True, slots=True)
class CachedSnapshot:
    seq: int
    text: str  # the encoded frame, sent as is to every board that takes it
    built: float  # monotonic
    epoch: str = ""  # the event stream's epoch at `seq` (persistence.events)


class SnapshotCache:
    """Recent snapshot frames per organization, shared by the boards of one replica and,
    through Redis when it is configured, by the replicas (a frame built within `ttl_s` at the
    same stream position).

    A connect storm (a deploy, a network blip, a thousand boards opening at once) would
    otherwise build one snapshot per board: database queries and a shard call each. Builds for
    one org are single-flight, and a frame younger than `ttl_s` is reused while no event has
    come since. A board that joined an in-flight build sets its cursor to that frame's seq, so
    events after it still arrive, in order, through its replay. Positions in a frame are at
    most `ttl_s` old; the next ticks move them.
    """

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._frames: dict[uuid.UUID, CachedSnapshot] = {}
        self._building: dict[uuid.UUID, asyncio.Future[CachedSnapshot]] = {}

    async def get(
        self, org_id: uuid.UUID, seq: int, build: Callable[[], Awaitable[CachedSnapshot]], epoch: str = ""
    ) -> CachedSnapshot:
        """A frame at `seq` (the org's last event) if one is fresh, else a new build."""
        cached = self._frames.get(org_id)
        if (
            cached is not None
            and cached.seq == seq
            and cached.epoch == epoch
            and time.monotonic() - cached.built < self.ttl_s
        ):
            return cached
        pending = self._building.get(org_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[CachedSnapshot] = asyncio.get_running_loop().create_future()
        self._building[org_id] = future
        try:
            fresh = await self._shared(org_id, seq, epoch, build)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody logs it twice
            raise
        finally:
            self._building.pop(org_id, None)
        self._frames[org_id] = fresh
        future.set_result(fresh)
        return fresh

    async def _shared(
        self, org_id: uuid.UUID, seq: int, epoch: str, build: Callable[[], Awaitable[CachedSnapshot]]
    ) -> CachedSnapshot:
        """The frame another replica built at this very stream position within the TTL, else
        a build here, offered to the others. The key is the position (epoch and seq), so a
        frame is never served for a position it was not built at."""
        ttl_ms = int(self.ttl_s * 1000)
        if ttl_ms < 1:
            return await build()
        key = f"{SHARED_PREFIX}{org_id}:{epoch}:{seq}"

        async def read(redis: Any) -> tuple[bytes | None, int]:
            async with redis.pipeline(transaction=False) as pipe:
                text, left_ms = await pipe.get(key).pttl(key).execute()
            return text, int(left_ms)

        missing: tuple[bytes | None, int] = (None, 0)
        text, left_ms = await redis_call(read, missing)
        if text is not None:
            age_s = max(0.0, (ttl_ms - left_ms) / 1000)
            return CachedSnapshot(seq, text.decode(), time.monotonic() - age_s, epoch)
        fresh = await build()
        if (fresh.seq, fresh.epoch) == (seq, epoch):

            async def offer(redis: Any) -> None:
                await redis.set(key, fresh.text, px=ttl_ms, nx=True)

            await redis_call(offer, None)
        return fresh

    def forget(self, org_id: uuid.UUID) -> None:
        self._frames.pop(org_id, None)
