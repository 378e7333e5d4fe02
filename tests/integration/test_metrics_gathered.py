"""What /metrics gathers beyond this process (persistence/metrics.py): the fleet shards' health
and live drivers (a silent shard is reported down, not waited for), the outbox actor's counters
under its own `process`, and counts read from the real database (outbox depth and oldest age by
topic), at most once per REFRESH_S."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from persistence import metrics
from persistence.outbox import enqueue
from persistence.session import SYSTEM, tenant_session
from tests.factories import auth_headers, make_driver, make_org, make_user
from tests.integration.realtime_server import connect, ping, recv_json


def scrape() -> dict[str, list[tuple[dict[str, str], float]]]:
    """This process's exposition, parsed: sample name -> [(labels, value)]."""
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(generate_latest().decode()):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return found


def value(samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float | None:
    matching = [v for found, v in samples.get(name, []) if labels.items() <= found.items()]
    assert len(matching) <= 1, (name, labels, matching)
    return matching[0] if matching else None


class Answers:
    """A shard handle's `report_metrics.remote()`: an awaitable, as a Ray ObjectRef is."""

    def __init__(self, answer: dict[str, Any] | None) -> None:
        self.answer = answer

    def remote(self) -> Any:
        return self._answer()

    async def _answer(self) -> dict[str, Any]:
        if self.answer is None:
            await asyncio.sleep(3600)  # a shard that never answers
        assert self.answer is not None
        return self.answer


class Shard:
    def __init__(self, answer: dict[str, Any] | None) -> None:
        self.report_metrics = Answers(answer)


class Table:
    def __init__(self, handles: dict[int, Shard]) -> None:
        self.handles = handles


class FleetStandIn:
    """Only what refresh reads of actors.runtime.Fleet: its slot table's shard handles."""

    def __init__(self, handles: dict[int, Shard]) -> None:
        self.table = Table(handles)


class OutboxActorStandIn:
    def __init__(self, samples: metrics.Samples) -> None:
        self.samples = samples

    async def metric_samples(self) -> metrics.Samples:
        return self.samples


@pytest.fixture
async def fresh(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    monkeypatch.setattr(metrics, "REMOTE_TIMEOUT_S", 0.3)
    metrics.reset()
    yield
    metrics.reset()


async def test_shards_and_the_outbox_actor_reach_the_scrape(database: str, fresh: None) -> None:
    answering = {"shard": 0, "loaded": True, "orgs": 2, "drivers": 9, "live": 4, "samples": {}}
    answering["samples"] = {
        "movehub_shard_pings_applied": [("movehub_shard_pings_applied_total", {"shard": "0"}, 42.0)]
    }
    loading = {**answering, "shard": 2, "loaded": False, "samples": {}}
    fleet = FleetStandIn({0: Shard(answering), 1: Shard(None), 2: Shard(loading)})
    outbox = OutboxActorStandIn(
        {
            "movehub_outbox_deliveries": [
                ("movehub_outbox_deliveries_total", {"topic": "notify.email", "outcome": "delivered"}, 7.0)
            ]
        }
    )
    await metrics.refresh(fleet, outbox, database=False)
    samples = scrape()
    assert value(samples, "movehub_shard_up", shard="0") == 1
    assert value(samples, "movehub_shard_up", shard="1") == 0  # silent past the timeout
    assert value(samples, "movehub_shard_up", shard="2") == 0  # answers, but still loading
    assert value(samples, "movehub_shard_live_drivers", shard="0") == 4
    assert value(samples, "movehub_shard_drivers", shard="0") == 9
    assert value(samples, "movehub_shard_live_drivers", shard="1") is None
    assert value(samples, "movehub_shard_pings_applied_total", shard="0", process="shard-0") == 42
    delivered = value(
        samples,
        "movehub_outbox_deliveries_total",
        topic="notify.email",
        outcome="delivered",
        process="outbox-worker",
    )
    assert delivered == 7
    # Within REFRESH_S nobody is asked again: a shard going silent shows at the next refresh.
    fleet.table.handles[0] = Shard(None)
    await metrics.refresh(fleet, outbox, database=False)
    assert value(scrape(), "movehub_shard_up", shard="0") == 1


async def test_outbox_depth_and_oldest_age_come_from_the_database(database: str, fresh: None) -> None:
    topic = f"test.metrics_{uuid.uuid4().hex[:8]}"
    async with tenant_session(SYSTEM) as session:
        for _ in range(3):
            await enqueue(session, topic, {"n": 1})
        # Not due for an hour (the worker leaves them), created 90 s ago: pending and old.
        await session.execute(
            text(
                "UPDATE outbox SET next_attempt_at = now() + interval '1 hour',"
                " created_at = now() - interval '90 seconds' WHERE topic = :topic"
            ),
            {"topic": topic},
        )
    try:
        await metrics.refresh(None, None)
        samples = scrape()
        assert value(samples, "movehub_outbox_depth", topic=topic) == 3
        age = value(samples, "movehub_outbox_oldest_age_seconds", topic=topic)
        assert age is not None and 90 <= age < 120
        assert value(samples, "movehub_outbox_depth", topic="test.no_such_topic") is None
    finally:
        async with tenant_session(SYSTEM) as session:
            await session.execute(text("DELETE FROM outbox WHERE topic = :topic"), {"topic": topic})


async def test_the_worker_families_carry_this_process_samples(fresh: None) -> None:
    topic = f"test.local_{uuid.uuid4().hex[:8]}"
    metrics.OUTBOX_DELIVERIES.labels(topic, "retried").inc()
    assert value(scrape(), "movehub_outbox_deliveries_total", topic=topic, process=metrics.PROCESS) == 1


@pytest.mark.parametrize(
    ("detail", "reason"),
    [
        ("ts: Value error, ts is more than 300 s old", "too_old"),
        ("ts: Value error, ts is in the future", "future"),
        ("lat: Input should be less than or equal to 90", "out_of_range"),
        ("frame: Field required", "invalid"),
    ],
)
def test_a_refused_ping_is_counted_by_its_reason(detail: str, reason: str) -> None:
    before = metrics.PINGS_REJECTED.labels(reason)._value.get()
    metrics.ping_rejected(detail)
    assert metrics.PINGS_REJECTED.labels(reason)._value.get() == before + 1


async def test_real_shards_and_an_outbox_actor_reach_the_scrape(
    app: FastAPI, ws_base: str, fresh: None
) -> None:
    """With Ray on (the suite's default): the shard holding a driver who just pinged reports
    it live, every shard is up, and the shard's counters arrive through Ray under its process;
    an outbox worker actor answers with its process's families (the suite runs no worker:
    this one is not started, so it delivers nothing another test expects to drain)."""
    fleet = app.state.fleet
    if fleet is None:
        pytest.skip("Ray is off in this run (MOVEHUB_RAY_ENABLED=false): there are no shards")
    import ray

    from actors.outbox import OutboxHandle, OutboxWorkerActor

    org = await make_org()
    user = await make_user("driver", org)
    driver = await make_driver(org, user=user)
    shard = str(fleet.shard_id(org.id))
    async with connect(f"{ws_base}/ws/driver", auth_headers(user, driver)) as socket:
        assert (await recv_json(socket))["type"] == "hello"
        await socket.send(ping(52.51, 13.39))
        for _ in range(40):
            metrics.reset()
            await metrics.refresh(fleet, None, database=False)
            samples = scrape()
            if (value(samples, "movehub_shard_live_drivers", shard=shard) or 0) >= 1:
                break
            await asyncio.sleep(0.25)
    assert (value(samples, "movehub_shard_live_drivers", shard=shard) or 0) >= 1
    assert {labels["shard"] for labels, _ in samples["movehub_shard_up"]} == {
        str(s) for s in fleet.table.handles
    }
    assert all(up == 1 for _, up in samples["movehub_shard_up"])
    applied = value(samples, "movehub_shard_pings_applied_total", shard=shard, process=f"shard-{shard}")
    assert applied is not None and applied >= 1

    actor = ray.remote(num_cpus=0)(OutboxWorkerActor).remote(app.state.settings)
    try:
        answered = await OutboxHandle(actor=actor).metric_samples()
    finally:
        ray.kill(actor)
    assert answered is not None
    assert {"movehub_outbox_deliveries", "movehub_outbox_delivery_seconds"} <= answered.keys()
