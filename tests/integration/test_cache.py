"""Redis caches. Organization terms: quotes and bookings read them from the cache, every edit
is visible on the next request after its commit, the outbox's fleet.changed handler
invalidates after commit, and a Redis that is down means the database answers. Board
snapshots: replicas share a frame built at the same stream position, and only that one."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import select, update

from actors.outbox import fleet_changed
from gateway.realtime.snapshot import CachedSnapshot, SnapshotCache
from persistence import cache
from persistence.config import get_settings
from persistence.models import Organization, OutboxEvent
from persistence.outbox import OutboxItem
from persistence.redis import get_redis
from persistence.session import SYSTEM, tenant_session
from tests.factories import auth_headers, make_driver, make_org, make_truck, make_user
from tests.integration.test_bookings import booking_body

QUOTE = {
    "pickup": {"lon": 13.4, "lat": 52.5},
    "dropoff": {"lon": 13.4, "lat": 52.6},
    "volume_m3": 20,
    "crew_size": 2,
}
FAR_AWAY = {
    "type": "MultiPolygon",
    "coordinates": [[[[2.2, 48.8], [2.5, 48.8], [2.5, 48.9], [2.2, 48.9], [2.2, 48.8]]]],
}


async def _quote(client: httpx.AsyncClient, org: Organization, headers: dict[str, str]) -> dict[str, Any]:
    answer = await client.post(
        "/api/v1/bookings/quote", headers=headers, json={"org_id": str(org.id), **QUOTE}
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def _set_behind_the_cache(org_id: uuid.UUID, **values: Any) -> None:
    """Change the row without the use case (as a migration or psql would)."""
    async with tenant_session(SYSTEM) as session:
        await session.execute(update(Organization).where(Organization.id == org_id).values(**values))


async def _cached_generations(org_id: uuid.UUID) -> list[bytes]:
    redis = get_redis()
    assert redis is not None
    return [key async for key in redis.scan_iter(f"movehub:org:{org_id}:terms:v:*")]


async def test_quotes_read_the_cached_terms(client: httpx.AsyncClient) -> None:
    org = await make_org()
    headers = auth_headers(await make_user())
    first = await _quote(client, org, headers)
    assert first["labour_cents"] == 4500 * 2 * 5.5
    assert len(await _cached_generations(org.id)) == 1
    await _set_behind_the_cache(org.id, hourly_rate_cents=9000)
    # The cache answered, not the row: what proves the org's row was not read again.
    assert (await _quote(client, org, headers))["labour_cents"] == first["labour_cents"]


async def test_a_price_edit_is_visible_on_the_next_request(client: httpx.AsyncClient) -> None:
    org = await make_org()
    admin = auth_headers(await make_user("mover_admin", org))
    customer = auth_headers(await make_user())
    assert (await _quote(client, org, customer))["labour_cents"] == 4500 * 2 * 5.5
    edit = await client.patch(
        f"/api/v1/organizations/{org.id}", headers=admin, json={"hourly_rate_cents": 6000}
    )
    assert edit.status_code == 200, edit.text
    assert (await _quote(client, org, customer))["labour_cents"] == 6000 * 2 * 5.5
    # The same edit tells the fleet shards (marketplace offers price from their copy).
    async with tenant_session(SYSTEM) as session:
        raised = (
            await session.scalars(
                select(OutboxEvent.payload).where(
                    OutboxEvent.topic == "fleet.changed", OutboxEvent.org_id == org.id
                )
            )
        ).all()
    assert [p["kind"] for p in raised] == ["organization"]
    booked = await client.post("/api/v1/bookings", headers=customer, json=booking_body(org.id))
    assert booked.status_code == 201, booked.text
    labour = 6000 * 2 * 5.5  # the new rate; plus 150 cents a km over about 11.13 km
    assert labour + 1650 <= booked.json()["price_cents"] <= labour + 1690


async def test_a_service_area_edit_is_visible_on_the_next_request(client: httpx.AsyncClient) -> None:
    org = await make_org()
    admin = auth_headers(await make_user("mover_admin", org))
    customer = auth_headers(await make_user())
    assert (await _quote(client, org, customer))["pickup_in_service_area"] is True
    moved = await client.put(f"/api/v1/organizations/{org.id}/service-area", headers=admin, json=FAR_AWAY)
    assert moved.status_code == 200, moved.text
    assert (await _quote(client, org, customer))["pickup_in_service_area"] is False
    refused = await client.post("/api/v1/bookings", headers=customer, json=booking_body(org.id))
    assert refused.status_code == 422
    assert "does not serve the pickup" in refused.json()["detail"]


async def test_an_edit_in_flight_is_never_cached(client: httpx.AsyncClient) -> None:
    org = await make_org()
    await cache.org_terms_changing(org.id)  # as the edit's transaction does before commit
    async with tenant_session(SYSTEM) as session:
        terms = await cache.org_terms(session, org.id)
    assert terms is not None and terms.hourly_rate_cents == 4500
    assert await _cached_generations(org.id) == []  # read from the database, not cached
    redis = get_redis()
    assert redis is not None
    ttl = await redis.pttl(f"movehub:org:{org.id}:terms:dirty")
    assert 0 < ttl <= get_settings().org_terms_dirty_s * 1000


async def test_the_fleet_changed_handler_invalidates_after_commit(client: httpx.AsyncClient) -> None:
    org = await make_org()
    customer = auth_headers(await make_user())
    assert (await _quote(client, org, customer))["pickup_in_service_area"] is True
    # What verification does when an org's license lapses: the flag and a fleet.changed row.
    await _set_behind_the_cache(org.id, verified=False)
    await fleet_changed(
        OutboxItem(
            id=0,
            topic="fleet.changed",
            org_id=org.id,
            attempts=1,
            payload={"org_id": str(org.id), "kind": "organization"},
        )
    )
    refused = await client.post("/api/v1/bookings", headers=customer, json=booking_body(org.id))
    assert refused.status_code == 422 and "not verified" in refused.json()["detail"]


async def test_without_redis_the_database_answers(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = await make_org()
    customer = auth_headers(await make_user())
    assert (await _quote(client, org, customer))["labour_cents"] == 4500 * 2 * 5.5
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    monkeypatch.setattr(cache, "get_redis", lambda: dead)
    monkeypatch.setattr(cache, "_skip_until", 0.0)  # restored afterwards: later tests use Redis
    try:
        await _set_behind_the_cache(org.id, hourly_rate_cents=7000)
        assert (await _quote(client, org, customer))["labour_cents"] == 7000 * 2 * 5.5
        with pytest.raises((RedisError, OSError, TimeoutError)):  # the outbox retries the row
            await cache.org_terms_changed(org.id)
    finally:
        await dead.aclose()


class Builds:
    """A replica's snapshot builder that counts its builds."""

    def __init__(self, seq: int, epoch: str) -> None:
        self.seq, self.epoch, self.count = seq, epoch, 0

    async def __call__(self) -> CachedSnapshot:
        self.count += 1
        text = f'{{"type":"snapshot","seq":{self.seq},"epoch":"{self.epoch}","n":{self.count}}}'
        return CachedSnapshot(self.seq, text, time.monotonic(), self.epoch)


async def test_replicas_share_a_snapshot_at_the_same_stream_position() -> None:
    org, epoch = uuid.uuid4(), uuid.uuid4().hex[:8]
    one, other = SnapshotCache(ttl_s=30), SnapshotCache(ttl_s=30)  # two gateway replicas
    here, there = Builds(7, epoch), Builds(7, epoch)
    built = await one.get(org, 7, here, epoch)
    shared = await other.get(org, 7, there, epoch)
    assert (here.count, there.count) == (1, 0) and shared.text == built.text
    assert shared.seq == 7 and shared.epoch == epoch
    later = Builds(8, epoch)
    assert (await other.get(org, 8, later, epoch)).seq == 8 and later.count == 1  # an event
    reborn = Builds(7, "other")
    frame = await other.get(org, 7, reborn, "other")  # the same seq of a new stream life
    assert reborn.count == 1 and '"epoch":"other"' in frame.text


async def test_snapshots_are_built_locally_when_redis_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    monkeypatch.setattr(cache, "get_redis", lambda: dead)
    monkeypatch.setattr(cache, "_skip_until", 0.0)
    try:
        org, builds = uuid.uuid4(), Builds(3, "e")
        assert (await SnapshotCache(ttl_s=30).get(org, 3, builds, "e")).seq == 3
        assert (await SnapshotCache(ttl_s=30).get(org, 3, builds, "e")).seq == 3
        assert builds.count == 2
    finally:
        await dead.aclose()


async def test_after_a_failure_reads_leave_redis_alone_but_invalidations_do_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connections = 0

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.read()  # a blackholed Redis: accepts, never answers

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    silent_redis = Redis.from_url(f"redis://127.0.0.1:{port}/0")
    monkeypatch.setattr(cache, "get_redis", lambda: silent_redis)
    monkeypatch.setattr(cache, "_skip_until", 0.0)
    org = await make_org()
    try:
        async with asyncio.timeout(10):  # every wait is bounded: a hang fails here
            async with tenant_session(SYSTEM) as session:
                assert (await cache.org_terms(session, org.id)) is not None  # the database
                assert connections == 1
                assert (await cache.org_terms(session, org.id)) is not None
                assert connections == 1  # skipped: no second wait on a dead Redis
            await cache.org_terms_changing(org.id)  # invalidations are always attempted
        assert connections == 2
    finally:
        await silent_redis.aclose()
        server.close()


@pytest.mark.skipif(not get_settings().ray_enabled, reason="needs the Ray fleet")
async def test_a_price_edit_reaches_the_marketplace_through_fleet_changed(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    # A city of its own: the marketplace answers the ten best offers over every org whose
    # area covers the pickup, so other tests' cheaper movers must not push this one out.
    lon, lat = 20 + random.uniform(0, 60), -40 + random.uniform(0, 20)
    org = await make_org(center=(lon, lat), hourly_rate_cents=100, minimum_charge_cents=0)
    admin = auth_headers(await make_user("mover_admin", org))
    customer = auth_headers(await make_user())
    await make_driver(org, lon=lon, lat=lat)
    await make_truck(org)
    await app.state.fleet.refresh_org(org.id)
    start = (datetime.now(UTC) + timedelta(days=40)).replace(hour=9, minute=0, second=0, microsecond=0)
    spec = {
        "pickup_lat": lat,
        "pickup_lon": lon,
        "dropoff_lat": lat - 0.02,
        "dropoff_lon": lon - 0.03,
        "window_start": start.isoformat(),
        "window_end": (start + timedelta(hours=3)).isoformat(),
        "volume_m3": 20,
        "crew_size": 2,
    }

    async def price() -> int:
        offers = await client.post("/api/v1/marketplace/offers", headers=customer, json=spec)
        assert offers.status_code == 200, offers.text
        return int(next(o["price_cents"] for o in offers.json() if o["org_id"] == str(org.id)))

    before = await price()
    edit = await client.patch(
        f"/api/v1/organizations/{org.id}", headers=admin, json={"hourly_rate_cents": 10_000}
    )
    assert edit.status_code == 200
    async with tenant_session(SYSTEM) as session:
        row = (
            await session.execute(
                select(OutboxEvent.id, OutboxEvent.payload).where(
                    OutboxEvent.topic == "fleet.changed", OutboxEvent.org_id == org.id
                )
            )
        ).one()
    await fleet_changed(
        OutboxItem(id=row.id, topic="fleet.changed", payload=row.payload, org_id=org.id, attempts=1)
    )  # what the outbox worker runs
    async with asyncio.timeout(30):  # the shard reloads asynchronously
        while await price() == before:
            await asyncio.sleep(0.2)
    assert await price() > before
