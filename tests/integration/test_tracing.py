"""One booking's trace across processes: the gateway (this process, its own app), a fleet shard
and the outbox worker (Ray actors of the session's Ray) all export over OTLP/HTTP to a receiver
this test starts, and the booking, its confirmation, auto-assignment and the outbox deliveries
they cause are one trace with DB spans in it. The trace is printed (`-s`) and written to
test-artifacts/booking-trace.txt.

The app here runs its own fleet (a fresh Ray namespace: a directory and one shard created
with the OTEL_* variables, as a gateway started with them would) and the outbox worker as an
actor; both are removed at the end, and tracing is shut down in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import ray
from fastapi import FastAPI
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from actors.slots import DIRECTORY_NAME, shard_name
from persistence import telemetry
from persistence.config import get_settings
from tests.factories import auth_headers, make_driver, make_org, make_truck, make_user

pytestmark = pytest.mark.skipif(not get_settings().ray_enabled, reason="needs the Ray fleet")
ARTIFACT = Path(__file__).resolve().parents[2] / "test-artifacts" / "booking-trace.txt"
GATEWAY, SHARD, OUTBOX = "movehub-gateway", "movehub-fleet-shard", "movehub-outbox-worker"


@dataclass(frozen=True)
class Received:
    service: str
    pid: int
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_id: str
    start_ns: int
    attributes: dict[str, Any]


class Receiver(ThreadingHTTPServer):
    """An OTLP/HTTP trace receiver: POST /v1/traces, protobuf ExportTraceServiceRequest."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.spans: list[Received] = []
        self.lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def trace(self, trace_id: str) -> list[Received]:
        with self.lock:
            return sorted((s for s in self.spans if s.trace_id == trace_id), key=lambda s: s.start_ns)


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        found = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    found.append(
                        Received(
                            service=str(resource.get("service.name")),
                            pid=int(resource.get("process.pid", 0)),
                            name=span.name,
                            kind=span.kind,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex(),
                            start_ns=span.start_time_unix_nano,
                            attributes={a.key: _value(a.value) for a in span.attributes},
                        )
                    )
        with self.server.lock:
            self.server.spans += found
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *_: Any) -> None:
        pass


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
async def traced_app(
    app: FastAPI,  # the session's: Ray is up (with the session's environment) before ours
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[FastAPI]:
    """A gateway traced as `OTEL_*` says, with its own fleet and outbox worker actor."""
    for key, value in {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_TRACES_SAMPLER": "parentbased_always_on",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
    }.items():
        monkeypatch.setenv(key, value)
    namespace = f"movehub-trace-{uuid.uuid4().hex[:8]}"
    settings = get_settings().model_copy(
        update={"ray_namespace": namespace, "fleet_shards": 1, "background_workers": False}
    )
    from actors.outbox import start_outbox_worker
    from gateway.app import create_app

    traced = create_app(settings)
    try:
        async with traced.router.lifespan_context(traced):
            # The worker as an actor (the app's background workers would add the scheduler).
            outbox = await start_outbox_worker(settings.model_copy(update={"background_workers": True}))
            try:
                yield traced
            finally:
                await outbox.close()
    finally:
        telemetry.shutdown()
        for name in [DIRECTORY_NAME, shard_name(0)]:
            with contextlib.suppress(ValueError):  # never created
                ray.kill(ray.get_actor(name, namespace=namespace), no_restart=True)


def _tree(spans: list[Received]) -> list[str]:
    """The trace as an indented tree: name [service pid] (DB spans: the statement's verb)."""
    by_id = {s.span_id: s for s in spans}
    children: dict[str, list[Received]] = {}
    for s in spans:
        children.setdefault(s.parent_id if s.parent_id in by_id else "", []).append(s)
    lines: list[str] = []

    def walk(parent: str, depth: int) -> None:
        for s in children.get(parent, []):
            table = s.attributes.get("db.collection.name") or s.attributes.get("db.sql.table") or ""
            db = (
                f" db={s.attributes['db.system']}{' ' + str(table) if table else ''}"
                if "db.system" in s.attributes
                else ""
            )
            lines.append(f"{'  ' * depth}{s.name}  [{s.service} pid {s.pid}]{db}")
            walk(s.span_id, depth + 1)

    walk("", 0)
    return lines


async def test_booking_assignment_and_delivery_form_one_trace(
    traced_app: FastAPI, receiver: Receiver
) -> None:
    org = await make_org()
    staff, customer = await make_user("dispatcher", org), await make_user("customer")
    await make_driver(org, lat=52.53, skills=["driver", "packer"])
    await make_truck(org)
    start = (datetime.now(UTC) + timedelta(days=4)).replace(minute=0, second=0, microsecond=0)
    body = {
        "org_id": str(org.id),
        "pickup": {"address": "Alexanderplatz 1", "location": {"lon": 13.405, "lat": 52.52}},
        "dropoff": {"address": "Pankow 5", "location": {"lon": 13.405, "lat": 52.62}},
        "window_start": start.isoformat(),
        "window_end": (start + timedelta(hours=4)).isoformat(),
        "volume_m3": 20,
        "crew_size": 2,
    }
    transport = httpx.ASGITransport(app=traced_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        # The client's own span: every request it sends carries it (W3C traceparent header).
        with telemetry.span("test client: one booking", kind="client") as root:
            assert root is not None
            headers = telemetry.carrier() or {}
            booked = await client.post(
                "/api/v1/bookings", json=body, headers={**headers, **auth_headers(customer)}
            )
            assert booked.status_code == 201, booked.text
            booking_id = booked.json()["id"]
            assert booked.headers["x-correlation-id"] == telemetry.trace_id()  # logs: the trace id
            confirmed = await client.post(
                f"/api/v1/bookings/{booking_id}/confirm",
                json={"reason": "checked"},
                headers={**headers, **auth_headers(staff)},
            )
            assert confirmed.status_code == 200, confirmed.text
            assigned = await client.post(
                f"/api/v1/bookings/{booking_id}/assign/auto", headers={**headers, **auth_headers(staff)}
            )
            assert assigned.status_code == 201, assigned.text
            trace_id = f"{root.get_span_context().trace_id:032x}"

    # The outbox worker delivers the rows these requests wrote; every process exports.
    deadline = time.monotonic() + 60
    while True:
        telemetry.flush()
        spans = receiver.trace(trace_id)
        services = {s.service for s in spans}
        delivered = [s for s in spans if s.service == OUTBOX and s.name.startswith("outbox ")]
        if {GATEWAY, SHARD, OUTBOX} <= services and len(delivered) >= 4:
            break
        if time.monotonic() > deadline:
            others = [
                (s.service, s.name, s.trace_id, s.parent_id) for s in receiver.spans if s.service != GATEWAY
            ]
            pytest.fail(
                f"trace incomplete after 60 s: {sorted(services)}\n" + "\n".join(_tree(spans)) + f"\n{others}"
            )
        await asyncio.sleep(0.3)
    await asyncio.sleep(1.0)  # the last batches (DB spans of the final deliveries)
    telemetry.flush()
    spans = receiver.trace(trace_id)
    lines = _tree(spans)
    text = "\n".join(
        [f"trace {trace_id}: {len(spans)} spans from {sorted({s.service for s in spans})}", *lines]
    )
    print("\n" + text)
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text(text + "\n")

    by_id = {s.span_id: s for s in spans}
    roots = [s for s in spans if s.parent_id not in by_id]
    assert [r.name for r in roots] == ["test client: one booking"], "one trace, one root"
    names = {(s.service, s.name) for s in spans}
    # The gateway's request spans (FastAPI, named by route) ...
    assert (GATEWAY, "POST /api/v1/bookings") in names
    assert (GATEWAY, "POST /api/v1/bookings/{booking_id}/assign/auto") in names
    # ... its call to the shard and the shard's span in its own process, as the child ...
    rank = next(s for s in spans if s.name == "FleetShard.rank")
    assert rank.service == SHARD and by_id[rank.parent_id].name == "fleet.rank"
    assert by_id[rank.parent_id].service == GATEWAY and rank.pid != by_id[rank.parent_id].pid
    # ... the outbox deliveries in the worker's process, under the request that wrote the row
    # (the booking's confirmation email under POST /bookings).
    created = next(s for s in delivered if s.name == "outbox booking.created")
    assert by_id[created.parent_id].service == GATEWAY and created.pid != by_id[created.parent_id].pid
    assert {"outbox assignment.created", "outbox fleet.assignment_noted"} <= {s.name for s in delivered}
    # DB spans from the gateway and the outbox worker (SQLAlchemy over asyncpg).
    db = {s.service for s in spans if s.attributes.get("db.system") == "postgresql"}
    assert {GATEWAY, OUTBOX} <= db, db
