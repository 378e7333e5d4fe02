"""Per-organization event streams: Redis Streams (bounded) shared by every gateway replica,
or an in-process buffer when no Redis is configured. Each event gets a per-org sequence."""

from __future__ import annotations

import uuid
from collections import defaultdict, deque
from typing import Any

import orjson

from persistence.redis import get_redis

MAX_EVENTS_PER_ORG = 10_000
_local: dict[uuid.UUID, deque[tuple[int, dict[str, Any]]]] = defaultdict(
    lambda: deque(maxlen=MAX_EVENTS_PER_ORG))
_local_seq: dict[uuid.UUID, int] = defaultdict(int)


def _keys(org_id: uuid.UUID) -> tuple[str, str]:
    return f"movehub:org:{org_id}:seq", f"movehub:org:{org_id}:events"


async def publish(org_id: uuid.UUID, event: dict[str, Any]) -> int:
    """Append one event to the org's stream; returns its sequence number."""
    redis = get_redis()
    if redis is None:
        _local_seq[org_id] += 1
        _local[org_id].append((_local_seq[org_id], event))
        return _local_seq[org_id]
    seq_key, stream_key = _keys(org_id)
    seq = int(await redis.incr(seq_key))
    await redis.xadd(stream_key, {"seq": seq, "event": orjson.dumps(event)},
                     maxlen=MAX_EVENTS_PER_ORG, approximate=True)
    return seq


async def read_since(org_id: uuid.UUID, after_seq: int,
                     limit: int = 1000) -> list[tuple[int, dict[str, Any]]] | None:
    """Events after `after_seq`, oldest first; None if the stream no longer reaches that far
    back (the reader needs a fresh snapshot instead)."""
    redis = get_redis()
    if redis is None:
        events = list(_local[org_id])
        if events and after_seq < events[0][0] - 1:
            return None
        return [(s, e) for s, e in events if s > after_seq][:limit]
    _, stream_key = _keys(org_id)
    entries = await redis.xrange(stream_key, count=MAX_EVENTS_PER_ORG) or []
    decoded = [(int(fields[b"seq"]), orjson.loads(fields[b"event"]))  # type: ignore[index]
               for _, fields in entries]
    if decoded and after_seq < decoded[0][0] - 1:
        return None
    return [(s, e) for s, e in decoded if s > after_seq][:limit]
