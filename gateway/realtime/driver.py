"""`/ws/driver`: a driver's app streams pings and moves its own jobs through their statuses;
it hears about assignments, changes and cancellations of its jobs."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import orjson
import structlog
from fastapi import WebSocket
from sqlalchemy.orm.exc import StaleDataError

from dispatch.errors import Conflict, DomainError, NotFound
from dispatch.lifecycle import service as lifecycle
from gateway.errors import unavailable
from gateway.realtime import reads
from gateway.realtime.auth import SocketRefused, driver_caller
from gateway.realtime.connection import (
    TRY_LATER,
    Closing,
    Inbox,
    close,
    gone,
    refuse,
    send_text,
)
from gateway.realtime.messages import (
    DRIVER_FRAMES,
    DRIVER_TYPES,
    BadFrame,
    InvalidFrame,
    Ping,
    StatusChange,
    decode,
)
from gateway.realtime.runtime import Realtime
from persistence import metrics
from persistence.session import Caller, tenant_session
from persistence.statuses import RELEASING_STATUSES, BookingStatus
from persistence.telemetry import traced

log = structlog.get_logger("movehub.realtime.driver")
ETA_FIELDS = ("eta_s", "distance_m", "stop")  # of a `job.eta` org event, passed on as is


def _dumps(payload: dict[str, Any]) -> str:
    return orjson.dumps(payload).decode()


class DriverSession:
    def __init__(self, websocket: WebSocket, caller: Caller, realtime: Realtime) -> None:
        self.websocket, self.caller, self.realtime = websocket, caller, realtime
        assert caller.org_id is not None and caller.driver_id is not None
        self.org_id, self.driver_id = caller.org_id, str(caller.driver_id)
        self.org_key = str(caller.org_id)
        self.jobs: dict[str, dict[str, Any]] = {}
        self.last_ts = 0.0
        self.send_lock = asyncio.Lock()
        self.direct = False
        self._status = "idle"
        self._pushes: set[asyncio.Task[None]] = set()
        self._own: dict[str, list[str]] = {}  # booking id -> own changes not yet echoed
        self.stamps = realtime.settings.realtime_stats_enabled  # benchmark hop stamps

    async def send(self, payload: dict[str, Any]) -> None:
        async with self.send_lock:
            await send_text(self.websocket, _dumps(payload), self.realtime.settings.ws_send_timeout_s)

    def status(self) -> str:
        job = reads.current_job(list(self.jobs.values()))
        return job["status"] if job else "idle"

    async def sync_shard_job(self) -> None:
        """The fleet shard watches the job in hand (arrival geofence, lateness)."""
        fleet = self.realtime.fleet
        if fleet is None:
            return
        job = reads.current_job(list(self.jobs.values()))
        try:
            await fleet.set_driver_job(
                self.org_id, uuid.UUID(self.driver_id), reads.shard_job(job) if job else None
            )
        except Exception:
            log.warning("driver.shard_job_failed", driver_id=self.driver_id)

    # ---- client frames -------------------------------------------------------------------
    def on_ping(self, ping: Ping) -> Any:
        accepted = {
            "org_id": self.org_key,
            "driver_id": self.driver_id,
            "lat": ping.lat,
            "lon": ping.lon,
            "heading": ping.heading,
            "speed": ping.speed,
            "accuracy": ping.accuracy,
            "ts": ping.ts,
            "status": self._status,
        }
        if self.stamps:  # received by the gateway (bench_realtime's first hop)
            accepted["rx"] = time.time()
        batcher = self.realtime.batcher
        self.last_ts = max(self.last_ts, batcher.last_accepted(self.driver_id))
        if ping.ts <= self.last_ts:
            # Late (an offline backlog behind a newer position): the trail, not live state.
            batcher.submit_late(accepted)
            metrics.PINGS_LATE.inc()
            return None
        self.last_ts = ping.ts
        batcher.accepted(self.driver_id, ping.ts)
        metrics.PINGS_ACCEPTED.inc()
        if self.direct:
            return self.realtime.batcher.ingest_direct(accepted)
        self.realtime.batcher.submit(accepted)
        return None

    # A trace per status change (its outbox effects in it), linked to the session's span.
    @traced("ws.driver status", kind="server", root=True, link_current=True)
    async def on_status(self, change: StatusChange) -> None:
        reply = {"ref": change.ref, "booking_id": str(change.booking_id)}
        try:
            async with tenant_session(self.caller) as session:
                booking, _ = await lifecycle.transition(
                    session,
                    change.booking_id,
                    change.status,
                    self.caller,
                    metadata=None if change.ts is None else {"device_ts": change.ts},
                )
        except NotFound as exc:
            await self.send({"type": "error", "code": "not_found", "detail": exc.detail, **reply})
            return
        except (Conflict, StaleDataError) as exc:
            detail = exc.detail if isinstance(exc, DomainError) else "changed meanwhile; retry"
            await self.send({"type": "error", "code": "conflict", "detail": detail, **reply})
            return
        except DomainError as exc:
            await self.send({"type": "error", "code": "invalid", "detail": exc.detail, **reply})
            return
        except Exception as exc:
            if not unavailable(exc):
                raise
            # An outage is the server's, not this socket's: say so and stay open for a retry.
            log.warning("driver.status_unavailable", driver_id=self.driver_id, error=type(exc).__name__)
            await self.send(
                {
                    "type": "error",
                    "code": "unavailable",
                    "detail": "the database cannot be reached right now; retry later",
                    **reply,
                }
            )
            return
        job = self.jobs.get(str(booking.id))
        # The stream will echo this change: skip it then (a burst of queued changes is
        # answered before their echoes come, which must not undo the newer ones).
        self._own.setdefault(str(booking.id), []).append(booking.status)
        if job is not None:
            job["status"] = booking.status
            if booking.status == BookingStatus.COMPLETED:
                self.jobs.pop(str(booking.id))
        self._status = self.status()
        await self.sync_shard_job()
        await self.send({"type": "status.ok", **reply, "status": booking.status})

    # ---- pushes from the org stream ------------------------------------------------------
    def on_event(self, event: dict[str, Any]) -> None:
        data = event["data"]
        booking_id = str(data.get("booking_id", ""))
        mine = data.get("driver_id") == self.driver_id
        if event["kind"] == "assignment.created" and mine:
            self._spawn(self._assigned(booking_id))
        elif event["kind"] == "assignment.created" and booking_id in self.jobs:
            self._spawn(self._reassigned_away(booking_id))  # POST .../reassign: not ours now
        elif event["kind"] == "booking.status" and booking_id in self.jobs:
            self._spawn(self._status_changed(booking_id, str(data.get("to"))))
        elif event["kind"] == "driver.message" and mine:
            self._spawn(self.send({"type": "message", "text": str(data.get("text", ""))}))
        elif event["kind"] == "job.eta" and mine and booking_id in self.jobs:
            self._spawn(
                self.send(
                    {"type": "job.eta", "booking_id": booking_id, **{k: data.get(k) for k in ETA_FIELDS}}
                )
            )

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._pushes.add(task)
        task.add_done_callback(self._pushed)

    def _pushed(self, task: asyncio.Task[None]) -> None:
        self._pushes.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("driver.push_failed", driver_id=self.driver_id, error=repr(task.exception()))

    async def _assigned(self, booking_id: str) -> None:
        jobs = await reads.driver_jobs(self.caller, uuid.UUID(booking_id))
        if jobs:
            self.jobs[booking_id] = jobs[0]
            self._status = self.status()
            await self.sync_shard_job()
            await self.send({"type": "job.assigned", "job": jobs[0]})

    async def _reassigned_away(self, booking_id: str) -> None:
        """The job went to another crew (its status unchanged): it leaves this app."""
        job = self.jobs.pop(booking_id, None)
        if job is None:
            return
        self._status = self.status()
        await self.sync_shard_job()
        await self.send({"type": "job.cancelled", "job": job, "reason": "reassigned"})

    async def _status_changed(self, booking_id: str, to: str) -> None:
        own = self._own.get(booking_id)
        if own and to in own:
            del own[: own.index(to) + 1]  # our own change, already answered with status.ok
            return
        job = self.jobs.get(booking_id)
        if job is None or job["status"] == to:
            return
        job["status"] = to
        if to in RELEASING_STATUSES or to == BookingStatus.COMPLETED:
            self.jobs.pop(booking_id, None)
            kind = "job.cancelled" if to in RELEASING_STATUSES else "job.changed"
        else:
            kind = "job.changed"
        self._status = self.status()
        await self.sync_shard_job()
        await self.send({"type": kind, "job": job})

    # ---- the connection ------------------------------------------------------------------
    async def run(self) -> None:
        realtime = self.realtime
        self.direct = (
            self.websocket.query_params.get("ingest") == "direct"
            and realtime.settings.ingest_unbatched_allowed
        )
        # Listen first, then read the jobs: an assignment committed in between is not lost.
        await realtime.hub.add_driver(self.org_id, self.driver_id, self)
        metrics.WS_CONNECTIONS.labels("driver").inc()
        try:
            jobs = await reads.driver_jobs(self.caller)
            self.jobs = {job["booking_id"]: job for job in jobs}
            self._status = self.status()
            settings = realtime.settings
            await self.send(
                {
                    "type": "hello",
                    "driver_id": self.driver_id,
                    "org_id": self.org_key,
                    "jobs": jobs,
                    "ping_interval_s": settings.driver_ping_interval_s,
                    "ping_max_age_s": settings.ping_max_age_s,
                }
            )
            await self.sync_shard_job()
            await self._receive()
        finally:
            metrics.WS_CONNECTIONS.labels("driver").dec()
            realtime.hub.remove_driver(self.org_id, self.driver_id, self)
            for task in list(self._pushes):
                task.cancel()
            await realtime.batcher.driver_gone(self.org_id, uuid.UUID(self.driver_id))

    async def _receive(self) -> None:
        inbox = Inbox(self.websocket, self.realtime.settings)
        while (text := await inbox.next()) is not None:
            try:
                message = decode(text, DRIVER_FRAMES, DRIVER_TYPES)
            except InvalidFrame as exc:
                if '"ping"' in text:  # a ping frame's fields (ts too old, lat out of range)
                    metrics.ping_rejected(exc.detail)
                inbox.count_invalid()
                await self.send({"type": "error", "code": "invalid", "detail": exc.detail, "ref": exc.ref})
                continue
            if isinstance(message, Ping):
                pending = self.on_ping(message)
                if pending is not None:
                    await pending
            elif isinstance(message, StatusChange):
                await self.on_status(message)
            else:
                await self.send({"type": "heartbeat"})


async def serve_driver(websocket: WebSocket, realtime: Realtime) -> None:
    try:
        caller = await driver_caller(websocket, realtime)  # watched: ends with 4410
    except SocketRefused as exc:
        await refuse(websocket, exc.code, exc.reason)
        return
    await websocket.accept()
    session = DriverSession(websocket, caller, realtime)
    try:
        await session.run()
    except (Closing, BadFrame) as exc:
        await close(websocket, exc.code, exc.reason)
        return
    except Exception as exc:
        if unavailable(exc):  # e.g. the hello's jobs could not be read
            await close(websocket, *TRY_LATER)
            return
        if not gone(websocket, exc):
            log.exception("driver.socket_failed", driver_id=session.driver_id)
        await close(websocket, 1011, "internal error")
        return
    await close(websocket, 1000, "bye")
