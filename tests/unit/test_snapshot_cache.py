"""The board snapshot cache: one build per org for a connect storm, never a stale seq."""

import asyncio
import time
import uuid

import pytest

from gateway.realtime.snapshot import CachedSnapshot, SnapshotCache

ORG = uuid.uuid4()


async def test_a_storm_of_boards_builds_one_snapshot() -> None:
    cache, builds = SnapshotCache(ttl_s=5), 0

    async def build() -> CachedSnapshot:
        nonlocal builds
        builds += 1
        await asyncio.sleep(0.01)
        return CachedSnapshot(7, '{"type":"snapshot"}', time.monotonic())

    frames = await asyncio.gather(*(cache.get(ORG, 7, build) for _ in range(100)))
    assert builds == 1 and {f.seq for f in frames} == {7}
    await cache.get(ORG, 7, build)
    assert builds == 1  # fresh and no event since: reused
    await cache.get(ORG, 8, build)
    assert builds == 2  # an event came: rebuilt


async def test_expired_frames_are_rebuilt_and_failures_reach_every_waiter() -> None:
    cache = SnapshotCache(ttl_s=0.0)

    async def build() -> CachedSnapshot:
        return CachedSnapshot(1, "{}", time.monotonic())

    first = await cache.get(ORG, 1, build)
    assert (await cache.get(ORG, 1, build)) is not first

    async def broken() -> CachedSnapshot:
        await asyncio.sleep(0.01)
        raise RuntimeError("database down")

    results = await asyncio.gather(*(cache.get(ORG, 2, broken) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    with pytest.raises(RuntimeError):
        await cache.get(ORG, 2, broken)  # nothing cached from a failure
