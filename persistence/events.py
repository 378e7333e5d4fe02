"""Per-organization event streams: Redis Streams (bounded) shared by every gateway replica,
or an in-process buffer when no Redis is configured. Each event gets a per-org sequence.

The sequence number is also the stream entry id (`<seq>-0`): one Lua script increments the
counter and appends the entry atomically, so concurrent publishers can never append out of
order, and a resume is one XRANGE starting at `<since + 1>-0` instead of a scan.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict, deque
from typing import Any

import orjson

from persistence.config import get_settings
from persistence.redis import get_redis

Event = tuple[int, dict[str, Any]]

_local: dict[uuid.UUID, deque[Event]] = {}
_local_seq: dict[uuid.UUID, int] = defaultdict(int)
_local_wake: asyncio.Event | None = None

# KEYS: seq counter, stream. ARGV: event JSON, max length. Returns the new sequence.
_PUBLISH = """
local seq = redis.call('INCR', KEYS[1])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], seq .. '-0', 'event', ARGV[1])
return seq
"""


def _keys(org_id: uuid.UUID | str) -> tuple[str, str]:
    # The log key is new with seq-as-id entries (the older auto-id stream could not take them).
    return f"movehub:org:{org_id}:seq", f"movehub:org:{org_id}:log"


def max_events() -> int:
    return get_settings().events_max_per_org


def _local_buffer(org_id: uuid.UUID) -> deque[Event]:
    if org_id not in _local:
        _local[org_id] = deque(maxlen=max_events())
    return _local[org_id]


def _stamp(event: dict[str, Any]) -> dict[str, Any]:
    return event if "ts" in event else {**event, "ts": time.time()}


async def publish(org_id: uuid.UUID, event: dict[str, Any]) -> int:
    """Append one event to the org's stream; returns its sequence number."""
    event = _stamp(event)
    redis = get_redis()
    if redis is None:
        global _local_wake
        _local_seq[org_id] += 1
        _local_buffer(org_id).append((_local_seq[org_id], event))
        if _local_wake is not None:
            _local_wake.set()
        return _local_seq[org_id]
    seq_key, stream_key = _keys(org_id)
    seq = await redis.eval(_PUBLISH, 2, seq_key, stream_key, orjson.dumps(event), max_events())
    return int(seq)


async def last_seq(org_id: uuid.UUID) -> int:
    """The sequence of the org's newest event (0 before the first)."""
    redis = get_redis()
    if redis is None:
        return _local_seq[org_id]
    return int(await redis.get(_keys(org_id)[0]) or 0)


def _seq_of(entry_id: bytes | str) -> int:
    raw = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(raw.split("-", 1)[0])


def _decode(entries: list[Any]) -> list[Event]:
    return [(_seq_of(entry_id), orjson.loads(fields[b"event"])) for entry_id, fields in entries]


async def read_since(org_id: uuid.UUID, after_seq: int,
                     limit: int = 1000) -> list[Event] | None:
    """Events after `after_seq`, oldest first (at most `limit`); None if the stream no longer
    reaches that far back (the reader needs a fresh snapshot instead)."""
    redis = get_redis()
    if redis is None:
        events = _local.get(org_id) or deque()
        newest = _local_seq[org_id]
        if after_seq < newest and (not events or events[0][0] > after_seq + 1):
            return None
        return [(s, e) for s, e in events if s > after_seq][:limit]
    seq_key, stream_key = _keys(org_id)
    entries = await redis.xrange(stream_key, min=f"{after_seq + 1}-0", max="+", count=limit)
    decoded = _decode(entries or [])
    if decoded:
        return decoded if decoded[0][0] == after_seq + 1 else None
    newest = int(await redis.get(seq_key) or 0)
    return None if after_seq < newest else []


async def read_new(cursors: dict[uuid.UUID, int], block_ms: int,
                   count: int = 500) -> list[tuple[uuid.UUID, int, dict[str, Any]]]:
    """Block up to `block_ms` for events after each org's cursor (XREAD BLOCK over all the
    orgs a replica serves); returns (org, seq, event) in order per org."""
    if not cursors:
        await asyncio.sleep(block_ms / 1000)
        return []
    redis = get_redis()
    if redis is None:
        return await _read_new_local(cursors, block_ms)
    streams: dict[Any, Any] = {_keys(org)[1]: f"{seq}-0" for org, seq in cursors.items()}
    by_key = {_keys(org)[1]: org for org in cursors}
    answer: Any = await redis.xread(streams, count=count, block=block_ms) or []
    found: list[tuple[uuid.UUID, int, dict[str, Any]]] = []
    for key, entries in answer:
        org = by_key[key.decode() if isinstance(key, bytes) else key]
        found.extend((org, seq, event) for seq, event in _decode(entries))
    return found


async def _read_new_local(cursors: dict[uuid.UUID, int],
                          block_ms: int) -> list[tuple[uuid.UUID, int, dict[str, Any]]]:
    global _local_wake

    def pending() -> list[tuple[uuid.UUID, int, dict[str, Any]]]:
        return [(org, s, e) for org, after in cursors.items()
                for s, e in (_local.get(org) or ()) if s > after]

    found = pending()
    if found:
        return found
    _local_wake = _local_wake or asyncio.Event()
    _local_wake.clear()
    try:
        await asyncio.wait_for(_local_wake.wait(), block_ms / 1000)
    except TimeoutError:
        return []
    return pending()
