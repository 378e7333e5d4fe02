"""Prometheus metrics of every MoveHub process, and what the gateway's /metrics gathers for them.

Three kinds of series reach one scrape of a gateway:

- The gateway's own (the default registry): websocket connections, pings, ingest batches,
  shard-call latency, board fan-out lag, drops and snapshots, payment webhooks, DB pool use.
- Those of the Ray actor processes (WORKER, a registry of its own that every process fills
  for what it runs: the outbox worker's deliveries, a fleet shard's ingest). The gateway asks
  each shard and the outbox worker actor for their samples (`worker_samples()`), with a
  timeout, and exposes them with a `process` label naming the process (an aggregated
  registry, see docs/operations.md for why not Ray's own metrics export). Where the outbox
  worker runs inside the gateway (Ray off), its samples are the gateway's own, under the
  gateway's `process` label.
- Read on demand (`refresh`, at most every REFRESH_S, never per scrape): the fleet shards'
  health and live drivers, and counts from the database (outbox depth and oldest age by
  topic, refunds by state, open bookings by status, invoices by status).

Every gateway replica reports the same shard, outbox-worker and database series (they are the
cluster's, not the replica's): aggregate them with `max without (instance)`.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import structlog
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import text

log = structlog.get_logger("movehub.metrics")
# No `<name>_created` series beside each counter and histogram: the text format exposes them
# as gauge families of their own, doubling what a scrape carries for nothing a rule reads.
disable_created_metrics()  # type: ignore[no-untyped-call]

REFRESH_S = 10.0  # the shards and the database are asked at most this often
REMOTE_TIMEOUT_S = 2.0  # a shard or the outbox actor not answering within this is reported down
DB_TIMEOUT_MS = 2000
PROCESS = f"{socket.gethostname()}:{os.getpid()}"  # the gateway's samples of WORKER families
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# ---- the gateway's own ---------------------------------------------------------------------
WS_CONNECTIONS = Gauge("movehub_ws_connections", "Open websocket connections, by kind", ["kind"])
PINGS = Counter(
    "movehub_pings_total",
    "Driver pings taken: accepted (live state) or late (behind a newer one: the trail only)",
    ["outcome"],
)
# Bound once: the accepted count is bumped on every ping (labels() is a locked dict lookup).
PINGS_ACCEPTED, PINGS_LATE = PINGS.labels("accepted"), PINGS.labels("late")
PINGS_REJECTED = Counter("movehub_pings_rejected_total", "Driver ping frames refused, by reason", ["reason"])
INGEST_BATCH = Histogram(
    "movehub_ingest_batch_pings",
    "Pings per ingest flush (one shard call per shard per flush)",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000),
)
INGEST_FLUSH = Histogram(
    "movehub_ingest_flush_seconds",
    "One ingest flush: the shard calls and what follows them",
    buckets=LATENCY_BUCKETS,
)
SHARD_CALL = Histogram(
    "movehub_shard_call_seconds",
    "Gateway-to-fleet-shard calls, by method (moves followed included)",
    ["method"],
    buckets=LATENCY_BUCKETS,
)
FANOUT_LAG = Histogram(
    "movehub_board_fanout_lag_seconds",
    "Board events: appended to the org stream until the tick writes them to the boards",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
BOARD_DROPS = Counter(
    "movehub_board_drops_total", "Boards whose queue overflowed: sent a fresh snapshot instead"
)
BOARD_SNAPSHOTS = Counter("movehub_board_snapshots_total", "Snapshots sent to boards")
WEBHOOKS = Counter(
    "movehub_payment_webhooks_total", "Stripe webhooks: applied, duplicate or rejected", ["outcome"]
)

# ---- the actor processes' (gathered by the gateway) -------------------------------------------
WORKER = CollectorRegistry(auto_describe=True)
OUTBOX_DELIVERIES = Counter(
    "movehub_outbox_deliveries_total",
    "Outbox rows handled, by topic and outcome (delivered, retried, dead: a dead letter)",
    ["topic", "outcome"],
    registry=WORKER,
)
OUTBOX_HANDLING = Histogram(
    "movehub_outbox_delivery_seconds",
    "Time the handlers of one outbox row took, by topic",
    ["topic"],
    buckets=LATENCY_BUCKETS,
    registry=WORKER,
)
SHARD_PINGS = Counter(
    "movehub_shard_pings_applied_total", "Pings a fleet shard applied", ["shard"], registry=WORKER
)
SHARD_INGEST = Histogram(
    "movehub_shard_ingest_seconds",
    "Time a fleet shard spends on one ingest batch",
    ["shard"],
    buckets=LATENCY_BUCKETS,
    registry=WORKER,
)

Samples = dict[str, list[tuple[str, dict[str, str], float]]]


def worker_samples() -> Samples:
    """This process's WORKER samples, as plain values a Ray call can return."""
    return {
        family.name: [
            (s.name, dict(s.labels), s.value) for s in family.samples if not s.name.endswith("_created")
        ]
        for family in WORKER.collect()
    }


# ---- hooks (one call at each place that counts) --------------------------------------------
def ping_rejected(detail: str) -> None:
    """An invalid ping frame, by the field it failed on."""
    where = detail.split(":", 1)[0]
    if where == "ts":
        reason = "too_old" if " old" in detail else "future" if "future" in detail else "ts"
    elif where in ("lat", "lon", "heading", "speed", "accuracy"):
        reason = "out_of_range"
    else:
        reason = "invalid"
    PINGS_REJECTED.labels(reason).inc()


def fanned_out(events: Iterable[tuple[int, dict[str, Any]]]) -> None:
    now = time.time()
    for _, event in events:
        ts = event.get("ts")
        if isinstance(ts, int | float):
            FANOUT_LAG.observe(max(0.0, now - ts))


# ---- gathered on demand --------------------------------------------------------------------
@dataclass
class Gathered:
    """What the last refresh found (the collector reads it; a scrape never waits on it)."""

    at: float = 0.0
    shards: dict[int, dict[str, Any] | None] = field(default_factory=dict)  # None: no answer
    remote: dict[str, Samples] = field(default_factory=dict)  # process -> its WORKER samples
    database: dict[str, list[tuple[tuple[str, ...], float]]] | None = None


_gathered = Gathered()
_lock: asyncio.Lock | None = None

DB_GAUGES = {
    "movehub_outbox_depth": ("Outbox rows not delivered yet (pending), by topic", ["topic"]),
    "movehub_outbox_oldest_age_seconds": ("Age of the oldest pending outbox row, by topic", ["topic"]),
    "movehub_refunds": ("Refunds by state", ["state"]),
    "movehub_bookings_open": ("Bookings not completed or cancelled, by status", ["status"]),
    "movehub_invoices": ("Invoices by status", ["status"]),
}
QUERIES = {
    "outbox": "SELECT topic, count(*), extract(epoch FROM now() - min(created_at))"
    " FROM outbox WHERE status = 'pending' GROUP BY topic",
    "movehub_refunds": "SELECT status, count(*) FROM refunds GROUP BY status",
    "movehub_bookings_open": "SELECT status, count(*) FROM bookings"
    " WHERE status NOT IN ('completed', 'cancelled') GROUP BY status",
    "movehub_invoices": "SELECT status, count(*) FROM invoices GROUP BY status",
}


async def _ask(call: Any) -> Any:
    """A remote call's answer (a Ray ObjectRef is awaitable), or TimeoutError."""

    async def answer() -> Any:
        return await call

    return await asyncio.wait_for(answer(), REMOTE_TIMEOUT_S)


async def _shards(fleet: Any) -> dict[int, dict[str, Any] | None]:
    handles: dict[int, Any] = dict(fleet.table.handles)
    answers = await asyncio.gather(
        *(_ask(handle.report_metrics.remote()) for handle in handles.values()), return_exceptions=True
    )
    found: dict[int, dict[str, Any] | None] = {}
    for shard_id, answer in zip(handles, answers, strict=True):
        found[shard_id] = answer if isinstance(answer, dict) else None
        if not isinstance(answer, dict):
            log.warning("metrics.shard_silent", shard=shard_id, error=repr(answer))
    return found


async def _database() -> dict[str, list[tuple[tuple[str, ...], float]]]:
    from persistence.session import SYSTEM, tenant_session

    found: dict[str, list[tuple[tuple[str, ...], float]]] = {name: [] for name in DB_GAUGES}
    async with tenant_session(SYSTEM) as session:
        await session.execute(text(f"SET LOCAL statement_timeout = {DB_TIMEOUT_MS}"))
        for topic, depth, age in (await session.execute(text(QUERIES["outbox"]))).all():
            found["movehub_outbox_depth"].append(((topic,), float(depth)))
            found["movehub_outbox_oldest_age_seconds"].append(((topic,), max(0.0, float(age))))
        for name in ("movehub_refunds", "movehub_bookings_open", "movehub_invoices"):
            for label, count in (await session.execute(text(QUERIES[name]))).all():
                found[name].append(((str(label),), float(count)))
    return found


async def refresh(fleet: Any = None, outbox: Any = None, *, database: bool = True) -> None:
    """Ask the shards, the outbox actor and the database again, unless done within REFRESH_S
    (concurrent scrapes share one refresh). Whatever does not answer in time is left out (a
    silent shard is reported down); the scrape is never refused for it."""
    global _lock
    if time.monotonic() - _gathered.at < REFRESH_S:
        return
    _lock = _lock or asyncio.Lock()
    async with _lock:
        if time.monotonic() - _gathered.at < REFRESH_S:
            return
        remote: dict[str, Samples] = {}
        shards: dict[int, dict[str, Any] | None] = {}
        if fleet is not None:
            shards = await _shards(fleet)
            remote.update({f"shard-{s}": a["samples"] for s, a in shards.items() if a})
        if outbox is not None:
            try:
                samples = await asyncio.wait_for(outbox.metric_samples(), REMOTE_TIMEOUT_S)
            except Exception as exc:  # the actor restarting: its counters return with it
                log.warning("metrics.outbox_silent", error=repr(exc))
            else:
                if samples is not None:
                    remote["outbox-worker"] = samples
        db = None
        if database:
            try:
                db = await asyncio.wait_for(_database(), DB_TIMEOUT_MS / 1000 + 1)
            except Exception as exc:  # an outage: the database series go missing, not the scrape
                log.warning("metrics.database_unavailable", error=repr(exc))
        _gathered.shards, _gathered.remote, _gathered.database = shards, remote, db
        _gathered.at = time.monotonic()


def reset() -> None:
    """Forget what was gathered (tests: the next scrape asks again)."""
    _gathered.at = 0.0
    _gathered.shards, _gathered.remote, _gathered.database = {}, {}, None


class GatheredCollector(Collector):
    """WORKER's families (this process's samples and the gathered ones, each with its
    `process`), the shards' gauges, the database's gauges and the DB pools' use."""

    def collect(self) -> Iterator[Metric]:
        remote = dict(_gathered.remote)
        for family in WORKER.collect():
            merged = Metric(family.name, family.documentation, family.type, family.unit)
            for s in family.samples:
                if not s.name.endswith("_created"):
                    merged.add_sample(s.name, {**s.labels, "process": PROCESS}, s.value)
            for process, samples in remote.items():
                for name, labels, value in samples.get(family.name, ()):
                    merged.add_sample(name, {**labels, "process": process}, value)
            yield merged
        yield from self._shards()
        for name, (doc, label_names) in DB_GAUGES.items():
            gauge = GaugeMetricFamily(name, doc, labels=label_names)
            for values, value in (_gathered.database or {}).get(name, ()):
                gauge.add_metric(list(values), value)
            yield gauge
        yield self._pools()

    def _shards(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("movehub_shard_up", "1 when a fleet shard answered in time", labels=["shard"])
        live = GaugeMetricFamily(
            "movehub_shard_live_drivers", "Drivers seen within the last minute, per shard", labels=["shard"]
        )
        drivers = GaugeMetricFamily("movehub_shard_drivers", "Drivers a shard holds", labels=["shard"])
        orgs = GaugeMetricFamily("movehub_shard_orgs", "Organizations a shard holds", labels=["shard"])
        for shard_id, answer in sorted(_gathered.shards.items()):
            label = [str(shard_id)]
            up.add_metric(label, 1.0 if answer and answer.get("loaded") else 0.0)
            if answer:
                live.add_metric(label, float(answer["live"]))
                drivers.add_metric(label, float(answer["drivers"]))
                orgs.add_metric(label, float(answer["orgs"]))
        yield from (up, live, drivers, orgs)

    def _pools(self) -> Metric:
        from persistence import session

        in_use = GaugeMetricFamily(
            "movehub_db_pool_in_use", "Database connections checked out of the pool", labels=["pool"]
        )
        # The engines are created lazily: a pool not created yet has nothing in use.
        for pool, name in (("primary", "_engine"), ("analytics", "_analytics_engine")):
            created = getattr(session, name, None)
            if created is not None:
                checked_out = getattr(created.pool, "checkedout", None)
                if checked_out is not None:
                    in_use.add_metric([pool], float(checked_out()))
        return in_use


REGISTRY.register(GatheredCollector())
