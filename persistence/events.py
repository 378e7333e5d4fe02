"""Per-organization event streams: Redis Streams (bounded) shared by every gateway replica,
or an in-process buffer when no Redis is configured. Each event gets a per-org sequence, and
each stream an epoch.

The sequence number is also the stream entry id (`<seq>-0`): one Lua script increments the
counter and appends the entry atomically, so concurrent publishers can never append out of
order, and a resume is one XRANGE starting at `<since + 1>-0` instead of a scan.

The epoch (as in Centrifugo's stream history) names one life of a stream. If Redis loses the
stream (a restart without persistence, a failover, a flush, the keys deleted) the sequence
starts again at 1 under a new epoch, so a reader holding `(seq, epoch)` can tell "nothing
new" from "a different stream". The counter and the epoch share one hash (`...:meta`), so
they can only be lost together; the same script that increments the counter sets the epoch
if it is missing and, on the first event of a new life, drops what is left of the old log.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict, deque
from typing import Any, NamedTuple

import orjson

from persistence.config import get_settings
from persistence.redis import get_redis

Event = tuple[int, dict[str, Any]]


class Head(NamedTuple):
    """Where an org's stream stands: its newest sequence (0 before the first) and its epoch."""

    seq: int
    epoch: str


class Entry(NamedTuple):
    """One event read by the hub: its org, sequence, the epoch it was written in, the event."""

    org_id: uuid.UUID
    seq: int
    epoch: str
    event: dict[str, Any]


# Without Redis the streams live as long as this process: one epoch per process start.
LOCAL_EPOCH = uuid.uuid4().hex[:12]
_local: dict[uuid.UUID, deque[Event]] = {}
_local_seq: dict[uuid.UUID, int] = defaultdict(int)
_local_wake: asyncio.Event | None = None

# KEYS: meta hash, stream. ARGV: event JSON, max length, a fresh epoch (used only when the
# stream has none). Returns {seq, epoch}.
_PUBLISH = """
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local born = redis.call('HSETNX', KEYS[1], 'epoch', ARGV[3])
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if born == 1 or seq == 1 then redis.call('DEL', KEYS[2]) end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], seq .. '-0',
           'event', ARGV[1], 'epoch', epoch)
return {seq, epoch}
"""
# KEYS: meta hash, stream. ARGV: a fresh epoch. Returns {seq or false, epoch}: a stream read
# before its first event gets its epoch here, so every snapshot names one (and entries left
# from a life whose meta is gone are dropped, as the publish script does).
_HEAD = """
if redis.call('HSETNX', KEYS[1], 'epoch', ARGV[1]) == 1 then redis.call('DEL', KEYS[2]) end
return redis.call('HMGET', KEYS[1], 'seq', 'epoch')
"""


def _keys(org_id: uuid.UUID | str) -> tuple[str, str]:
    # The log key is new with seq-as-id entries (the older auto-id stream could not take them);
    # the meta hash replaced the plain `...:seq` counter when epochs came.
    return f"movehub:org:{org_id}:meta", f"movehub:org:{org_id}:log"


def stream_keys(org_id: uuid.UUID | str) -> tuple[str, ...]:
    """Every Redis key of one org's stream (losing them all is losing the stream)."""
    return _keys(org_id)


def new_epoch() -> str:
    return uuid.uuid4().hex[:12]


def max_events() -> int:
    return get_settings().events_max_per_org


def _local_buffer(org_id: uuid.UUID) -> deque[Event]:
    if org_id not in _local:
        _local[org_id] = deque(maxlen=max_events())
    return _local[org_id]


def _stamp(event: dict[str, Any]) -> dict[str, Any]:
    return event if "ts" in event else {**event, "ts": time.time()}


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


async def append(org_id: uuid.UUID, event: dict[str, Any]) -> Head:
    """Append one event to the org's stream; its sequence number and the stream's epoch."""
    event = _stamp(event)
    redis = get_redis()
    if redis is None:
        _local_seq[org_id] += 1
        _local_buffer(org_id).append((_local_seq[org_id], event))
        if _local_wake is not None:
            _local_wake.set()
        return Head(_local_seq[org_id], LOCAL_EPOCH)
    meta_key, stream_key = _keys(org_id)
    seq, epoch = await redis.eval(
        _PUBLISH, 2, meta_key, stream_key, orjson.dumps(event), max_events(), new_epoch()
    )
    return Head(int(seq), _text(epoch))


async def publish(org_id: uuid.UUID, event: dict[str, Any]) -> int:
    """Append one event to the org's stream; returns its sequence number."""
    return (await append(org_id, event)).seq


async def heads(org_ids: list[uuid.UUID]) -> dict[uuid.UUID, Head]:
    """Where each org's stream stands (one round trip for all of them)."""
    redis = get_redis()
    if redis is None:
        return {org: Head(_local_seq[org], LOCAL_EPOCH) for org in org_ids}
    if not org_ids:
        return {}
    async with redis.pipeline(transaction=False) as pipe:
        for org in org_ids:
            pipe.eval(_HEAD, 2, *_keys(org), new_epoch())
        answers = await pipe.execute()
    return {
        org: Head(int(seq or 0), _text(epoch)) for org, (seq, epoch) in zip(org_ids, answers, strict=True)
    }


async def head(org_id: uuid.UUID) -> Head:
    return (await heads([org_id]))[org_id]


async def last_seq(org_id: uuid.UUID) -> int:
    """The sequence of the org's newest event (0 before the first)."""
    return (await head(org_id)).seq


def _decode(entries: list[Any]) -> list[tuple[int, str, dict[str, Any]]]:
    return [
        (
            int(_text(entry_id).split("-", 1)[0]),
            _text(fields.get(b"epoch", b"")),
            orjson.loads(fields[b"event"]),
        )
        for entry_id, fields in entries
    ]


async def read_since(
    org_id: uuid.UUID, after_seq: int, limit: int = 1000, epoch: str | None = None
) -> list[Event] | None:
    """Events after `after_seq`, oldest first (at most `limit`); None if the stream no longer
    reaches that far back, or (when `epoch` is given) is no longer that epoch's stream: the
    reader needs a fresh snapshot instead."""
    redis = get_redis()
    if redis is None:
        if epoch is not None and epoch != LOCAL_EPOCH:
            return None
        events = _local.get(org_id) or deque()
        newest = _local_seq[org_id]
        if after_seq > newest or (after_seq < newest and (not events or events[0][0] > after_seq + 1)):
            return None
        return [(s, e) for s, e in events if s > after_seq][:limit]
    stream_key = _keys(org_id)[1]
    entries = await redis.xrange(stream_key, min=f"{after_seq + 1}-0", max="+", count=limit)
    decoded = _decode(entries or [])
    if decoded:
        if decoded[0][0] != after_seq + 1:
            return None
        if epoch is not None and any(e != epoch for _, e, _ in decoded):
            return None
        return [(seq, event) for seq, _, event in decoded]
    now = await head(org_id)
    if (epoch is not None and now.epoch != epoch) or after_seq != now.seq:
        return None
    return []


async def read_new(cursors: dict[uuid.UUID, int], block_ms: int, count: int = 500) -> list[Entry]:
    """Block up to `block_ms` for events after each org's cursor (XREAD BLOCK over all the
    orgs a replica serves); returns entries in order per org, each with its epoch."""
    if not cursors:
        await asyncio.sleep(block_ms / 1000)
        return []
    redis = get_redis()
    if redis is None:
        return await _read_new_local(cursors, block_ms)
    streams: dict[Any, Any] = {_keys(org)[1]: f"{seq}-0" for org, seq in cursors.items()}
    by_key = {_keys(org)[1]: org for org in cursors}
    answer: Any = await redis.xread(streams, count=count, block=block_ms) or []
    found: list[Entry] = []
    for key, entries in answer:
        org = by_key[_text(key)]
        found.extend(Entry(org, seq, epoch, event) for seq, epoch, event in _decode(entries))
    return found


async def _read_new_local(cursors: dict[uuid.UUID, int], block_ms: int) -> list[Entry]:
    global _local_wake

    def pending() -> list[Entry]:
        return [
            Entry(org, s, LOCAL_EPOCH, e)
            for org, after in cursors.items()
            for s, e in (_local.get(org) or ())
            if s > after
        ]

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
