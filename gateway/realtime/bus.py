"""Position diffs between replicas: each flush publishes the moved drivers of every org on a
Redis pub/sub channel; every replica listens and feeds its boards (in-process without Redis).

Why pub/sub and not the shards: replicas may run without a shared Ray cluster (or without
Ray at all), positions are not sequenced events (a lost diff is healed by the next ping),
and one message per org per flush is cheap next to reading every shard each tick.

Benchmark stamps: diffs of stamped pings (`rx`, realtime stats on) are stamped `ap` here, as
the flush publishes them right after its shard calls returned (the shard-applied hop).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson
import structlog

from persistence.redis import get_redis

log = structlog.get_logger("movehub.realtime.bus")
PREFIX = "movehub:positions:"
Listener = Callable[[uuid.UUID, list[dict[str, Any]]], None]


class PositionBus:
    def __init__(self, listener: Listener) -> None:
        self.listener = listener
        self._task: asyncio.Task[None] | None = None

    async def publish(self, by_org: dict[str, list[dict[str, Any]]]) -> None:
        stamp = time.time()
        for diffs in by_org.values():
            if diffs and "rx" in diffs[0]:
                for diff in diffs:
                    diff["ap"] = stamp
        redis = get_redis()
        if redis is None:
            for org, diffs in by_org.items():
                self.listener(uuid.UUID(org), diffs)
            return
        async with redis.pipeline(transaction=False) as pipe:
            for org, diffs in by_org.items():
                pipe.publish(PREFIX + org, orjson.dumps(diffs))
            await pipe.execute()

    async def _listen(self) -> None:
        redis = get_redis()
        assert redis is not None
        while True:
            pubsub = redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(PREFIX + "*")
                async for message in pubsub.listen():
                    if message.get("type") != "pmessage":
                        continue
                    channel = message["channel"]
                    org = channel.decode() if isinstance(channel, bytes) else channel
                    self.listener(uuid.UUID(org[len(PREFIX) :]), orjson.loads(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis restarted: subscribe again
                log.exception("positions.bus_reconnect")
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    def start(self) -> None:
        if get_redis() is not None:
            self._task = asyncio.create_task(self._listen(), name="position-bus")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
