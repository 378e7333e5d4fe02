"""The outbox worker: claims due outbox rows, routes them by topic, retries, dead-letters.

The one way MoveHub runs work after a commit: notifications, refund sends, invoice PDFs, fleet
shard updates and live-stream relays are all topics here, delivered with one retry policy
(persistence/outbox.RetryPolicy, from the MOVEHUB_OUTBOX_* settings). Claiming is a short
transaction (SELECT ... FOR UPDATE SKIP LOCKED as SYSTEM) that counts the attempt and leases the
row by pushing next_attempt_at past the send, so several workers never take the same row and a
worker that dies mid-send only delays it until the lease ends. Delivery is at least once; each
handler makes a repeat harmless (notification channels recorded per row, idempotency keys at
the payment provider, PDF keys per invoice version, stream consumers deduping by outbox_id).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import ray
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from actors.runtime import notify_assignment, notify_fleet_changed
from dispatch.invoices import flows as invoice_flows
from dispatch.notifications import flows
from dispatch.refunds import flows as refund_flows
from persistence import metrics
from persistence.cache import org_terms_changed
from persistence.config import Settings
from persistence.integrations.email import DeliveryFailed
from persistence.integrations.ports import Ports, build_ports
from persistence.outbox import OutboxItem, RetryPolicy, claim_due, settle
from persistence.session import SYSTEM, tenant_session
from persistence.telemetry import environment, setup, traced

log = structlog.get_logger("movehub.outbox")

WAKE_CHANNEL = "movehub_outbox"
STOP_WAIT_S = 3.0  # the worker finishing its batch when its gateway stops
RELAYED_PREFIXES = ("booking.", "assignment.", "driver.")
Handler = Callable[[OutboxItem], Awaitable[None]]
# Runs in the transaction that marks a row dead: what giving up means for the row's subject.
DeadHook = Callable[[AsyncSession, OutboxItem, str], Awaitable[None]]
DEAD_HOOKS: dict[str, DeadHook] = {refund_flows.REFUND_SEND: refund_flows.refund_dead}


async def relay_to_stream(item: OutboxItem) -> None:
    """Publish booking/assignment/driver events on the organization's live stream."""
    org_id = item.org_id or (item.payload.get("org_id") and uuid.UUID(str(item.payload["org_id"])))
    if not org_id:
        return
    from persistence.events import publish

    await publish(org_id, {"type": item.topic, "outbox_id": item.id, "data": item.payload})


def _fleet_reachable(item: OutboxItem) -> bool:
    """Shards exist only where Ray runs; elsewhere (Ray off) there is nothing to tell."""
    if ray.is_initialized():
        return True
    log.debug("outbox.fleet_skipped", outbox_id=item.id, topic=item.topic)
    return False


async def fleet_changed(item: OutboxItem) -> None:
    """Let the fleet shards reload the organization when Ray runs them here, then invalidate
    its cached terms (after commit; a Redis failure retries the row, and a second reload
    is harmless)."""
    org_id = uuid.UUID(str(item.payload["org_id"]))
    if _fleet_reachable(item):
        # ray.get_actor blocks on the cluster's control plane: keep it off the event loop.
        await asyncio.to_thread(notify_fleet_changed, org_id)
    await org_terms_changed(org_id)


async def assignment_noted(item: OutboxItem) -> None:
    """Tell the organization's shard of a committed assignment, so it stops offering the crew
    for that window (the exclusion constraint stays the real guard; noting twice is harmless)."""
    if not _fleet_reachable(item):
        return
    p = item.payload
    await asyncio.to_thread(
        notify_assignment,
        uuid.UUID(str(p["org_id"])),
        uuid.UUID(str(p["driver_id"])),
        uuid.UUID(str(p["truck_id"])),
        float(p["start"]),
        float(p["end"]),
        float(p["end_lat"]),
        float(p["end_lon"]),
    )


async def alert(item: OutboxItem) -> None:
    log.error("alert", topic=item.topic, outbox_id=item.id, **item.payload)


@dataclass
class DrainResult:
    delivered: int = 0
    retried: int = 0
    dead: int = 0


class OutboxWorker:
    """Delivers outbox rows in process; `drain_once` is one claim-and-deliver pass."""

    def __init__(
        self, settings: Settings, *, ports: Ports | None = None, rng: random.Random | None = None
    ) -> None:
        self.settings = settings
        self.ports = ports or build_ports(settings)
        self.policy = RetryPolicy.from_settings(settings)
        self._rng = rng or random.Random()
        self.last = DrainResult()

    def handlers_for(self, topic: str) -> list[Handler]:
        """Every handler an event goes through; empty means nobody knows the topic."""
        ports = self.ports
        chain: list[Handler] = []
        if topic.startswith("notify."):
            chain.append(lambda item: flows.handle_notify(ports, item))
        elif topic == "booking.status_changed":
            chain.append(lambda item: flows.handle_booking_status_changed(ports, item))
        elif topic == "assignment.created":
            chain.append(lambda item: flows.handle_assignment_created(ports, item))
        elif topic == "fleet.changed":
            chain.append(fleet_changed)
        elif topic == "fleet.assignment_noted":
            chain.append(assignment_noted)
        elif topic == refund_flows.REFUND_SEND:
            chain.append(lambda item: refund_flows.send_refund(ports.payments, item))
        elif topic == invoice_flows.RENDER_PDF:
            chain.append(lambda item: invoice_flows.render_pdf(ports.storage, item))
        elif topic.startswith("alert."):
            chain.append(alert)
        if topic.startswith(RELAYED_PREFIXES):
            chain.append(relay_to_stream)
        return chain

    async def _claim(self, now: datetime) -> list[OutboxItem]:
        lease_until = now + timedelta(seconds=self.settings.outbox_lease_s)
        async with tenant_session(SYSTEM) as session:
            return await claim_due(session, now, lease_until, self.settings.outbox_batch_size)

    async def _finish(self, item: OutboxItem, values: dict[str, Any]) -> None:
        async with tenant_session(SYSTEM) as session:
            await settle(session, item, values)

    async def _run_handlers(self, item: OutboxItem) -> tuple[str, bool] | None:
        """Run every handler even if one fails (a slow SMS provider must not hold back the live
        board); returns (error, retryable) when any failed. Retries run them all again: the
        notification channels already sent are skipped, stream consumers dedupe by outbox_id.
        """
        handlers = self.handlers_for(item.topic)
        if not handlers:
            return f"no handler for topic {item.topic}", False
        errors: list[str] = []
        retryable = False
        for handler in handlers:
            try:
                await handler(item)
            except DeliveryFailed as exc:
                errors.append(str(exc))
                retryable = retryable or exc.retryable
            except Exception as exc:  # a bug or an outage in one handler must not stop the worker
                log.exception("outbox.handler_crashed", outbox_id=item.id, topic=item.topic)
                errors.append(f"{type(exc).__name__}: {exc}")
                retryable = True
        return ("; ".join(errors), retryable) if errors else None

    # In the trace of the transaction that wrote the row (its traceparent), when it had one.
    @traced(
        lambda self, item, *_: f"outbox {item.topic}",
        kind="consumer",
        parent=lambda self, item, *_: item.traceparent,
    )
    async def _process(self, item: OutboxItem, now: datetime, result: DrainResult) -> None:
        started = time.perf_counter()
        failure = await self._run_handlers(item)
        metrics.OUTBOX_HANDLING.labels(item.topic).observe(time.perf_counter() - started)
        if failure is not None:
            await self._failed(item, now, failure[0], failure[1], result)
            return
        await self._finish(
            item, {"status": "delivered", "delivered_at": datetime.now(UTC), "last_error": None}
        )
        result.delivered += 1
        metrics.OUTBOX_DELIVERIES.labels(item.topic, "delivered").inc()

    async def _failed(
        self, item: OutboxItem, now: datetime, error: str, retryable: bool, result: DrainResult
    ) -> None:
        if self.policy.gives_up(item.attempts, retryable=retryable):
            await self._dead(item, error)
            result.dead += 1
            metrics.OUTBOX_DELIVERIES.labels(item.topic, "dead").inc()
            return
        delay = self.policy.delay_s(item.attempts, self._rng)
        await self._finish(
            item, {"next_attempt_at": now + timedelta(seconds=delay), "last_error": error[:2000]}
        )
        log.warning(
            "outbox.retry",
            outbox_id=item.id,
            topic=item.topic,
            attempts=item.attempts,
            delay_s=round(delay, 1),
            error=error,
        )
        result.retried += 1
        metrics.OUTBOX_DELIVERIES.labels(item.topic, "retried").inc()

    async def _dead(self, item: OutboxItem, error: str) -> None:
        """Dead-letter the row and, in the same transaction, run its topic's dead hook."""
        values = {"status": "dead", "last_error": error[:2000]}
        log.error("outbox.dead", outbox_id=item.id, topic=item.topic, attempts=item.attempts, error=error)
        hook = DEAD_HOOKS.get(item.topic)
        if hook is not None:
            try:
                async with tenant_session(SYSTEM) as session:
                    await settle(session, item, values)
                    await hook(session, item, error)
                return
            except Exception:  # the row is dead all the same; the hook's failure is logged
                log.exception("outbox.dead_hook_failed", outbox_id=item.id, topic=item.topic)
        await self._finish(item, values)

    async def drain_once(self, now: datetime | None = None) -> int:
        """Claim the rows due at `now` and deliver them; returns how many were claimed."""
        now = now or datetime.now(UTC)
        items = await self._claim(now)
        result = DrainResult()
        for item in items:
            await self._process(item, now, result)
        self.last = result
        return len(items)


async def run_worker(worker: OutboxWorker, stop: asyncio.Event) -> None:
    """Drain until stopped; sleep between passes until NOTIFY wakes us or the poll ends."""
    wake = asyncio.Event()
    listener = await _listen(worker.settings, wake)
    try:
        while not stop.is_set():
            try:
                claimed = await worker.drain_once()
            except Exception:  # the database may be restarting: log, back off, go on
                log.exception("outbox.drain_failed")
                claimed = 0
            if claimed >= worker.settings.outbox_batch_size:
                continue
            wake.clear()
            waiters = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())]
            await asyncio.wait(
                waiters, timeout=worker.settings.outbox_poll_interval_s, return_when=asyncio.FIRST_COMPLETED
            )
            for waiter in waiters:
                waiter.cancel()
    finally:
        if listener is not None:
            await listener.close()


async def _listen(settings: Settings, wake: asyncio.Event) -> Any:
    """A LISTEN connection that sets `wake` on every outbox insert; None falls back to polling."""
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(settings.database_url).set(drivername="postgresql")
    try:
        connection = await asyncpg.connect(url.render_as_string(hide_password=False))
        await connection.add_listener(WAKE_CHANNEL, lambda *_: wake.set())
    except (OSError, asyncpg.PostgresError) as exc:
        log.warning("outbox.listen_unavailable", error=str(exc))
        return None
    return connection


class OutboxWorkerActor:
    """The Ray-hosted worker: one long-lived process looping `drain_once`."""

    def __init__(self, settings: Settings, telemetry: dict[str, str] | None = None) -> None:
        setup("outbox-worker", telemetry)  # the creator's OTEL_* variables: traces alike
        self._settings = settings  # given again to a restarted actor, with the same ports
        self._stop = asyncio.Event()
        self._running = False

    async def run(self) -> None:
        self._running = True
        try:
            await run_worker(OutboxWorker(self._settings), self._stop)
        finally:
            self._running = False

    async def alive(self) -> bool:
        """Answering is not enough: the drain loop must be running (a restarted actor
        runs again only once Ray retries `run`)."""
        return self._running

    async def stop(self) -> None:
        self._stop.set()

    async def metric_samples(self) -> metrics.Samples:
        """This process's delivery counters, for the gateways' /metrics."""
        return metrics.worker_samples()


class OutboxHandle:
    """What the app holds: the worker as a Ray actor or an in-process task; close() stops it."""

    def __init__(
        self, *, actor: Any = None, task: asyncio.Task[None] | None = None, stop: asyncio.Event | None = None
    ) -> None:
        self._actor, self._task, self._stop = actor, task, stop

    async def alive(self) -> bool:
        """The actor answers and its loop runs, or the in-process task has not ended."""
        if self._actor is not None:
            return bool(await self._actor.alive.remote())
        return self._task is not None and not self._task.done()

    async def metric_samples(self) -> metrics.Samples | None:
        """The actor's delivery counters; None when the worker runs in this process (its
        counters are this process's own)."""
        if self._actor is None:
            return None
        samples: metrics.Samples = await self._actor.metric_samples.remote()
        return samples

    async def close(self) -> None:
        if self._actor is not None:
            # The named worker may be gone already (another replica stopped it): kill it anyway.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._actor.stop.remote(), STOP_WAIT_S)
            with contextlib.suppress(Exception):
                ray.kill(self._actor)
        if self._task is not None and self._stop is not None:
            self._stop.set()
            await self._task


async def start_outbox_worker(settings: Settings, ports: Ports | None = None) -> OutboxHandle:
    """Start the worker on Ray when Ray is running here (its process builds its own ports),
    else as a task in this event loop, with the app's `ports` when given."""
    if settings.ray_enabled and ray.is_initialized():
        actor_class = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)(OutboxWorkerActor)
        actor: Any = actor_class.options(name="outbox-worker", get_if_exists=True).remote(
            settings, environment()
        )
        actor.run.remote()
        return OutboxHandle(actor=actor)
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(OutboxWorker(settings, ports=ports), stop))
    return OutboxHandle(task=task, stop=stop)
