"""Per-org event streams on real Redis: sequence numbers, resume, isolation, too-old, and the
epoch that tells one life of a stream from the next."""

import asyncio
import uuid

from persistence import events
from persistence.redis import get_redis


async def test_sequence_resume_and_isolation() -> None:
    org_a, org_b = uuid.uuid4(), uuid.uuid4()
    seqs = [await events.publish(org_a, {"type": "booking.created", "n": n}) for n in range(5)]
    assert seqs == [1, 2, 3, 4, 5]
    await events.publish(org_b, {"type": "booking.created", "n": 99})
    missed = await events.read_since(org_a, 2)
    assert missed is not None and [s for s, _ in missed] == [3, 4, 5]
    assert [e["n"] for _, e in missed] == [2, 3, 4]
    other = await events.read_since(org_b, 0)
    assert other is not None and [e["n"] for _, e in other] == [99]


async def test_concurrent_publishers_get_one_epoch_and_every_seq_once() -> None:
    org = uuid.uuid4()
    heads = await asyncio.gather(*(events.append(org, {"type": "t", "n": n}) for n in range(50)))
    assert sorted(h.seq for h in heads) == list(range(1, 51))
    assert len({h.epoch for h in heads}) == 1
    stored = await events.read_since(org, 0, limit=500, epoch=heads[0].epoch)
    assert stored is not None and [s for s, _ in stored] == list(range(1, 51))


async def test_a_lost_stream_starts_again_under_a_new_epoch() -> None:
    redis = get_redis()
    assert redis is not None
    org = uuid.uuid4()
    before = await events.head(org)  # read before the first event: the epoch exists already
    assert before.seq == 0 and before.epoch
    first = [await events.append(org, {"type": "t", "n": n}) for n in range(3)]
    assert {h.epoch for h in first} == {before.epoch}
    await redis.delete(*events.stream_keys(org))  # a flush, a failover, a restart
    lost = await events.head(org)
    assert lost.seq == 0 and lost.epoch != before.epoch
    assert await events.read_since(org, 3, epoch=before.epoch) is None  # resnapshot
    assert await events.read_since(org, 0, epoch=before.epoch) is None
    again = await events.append(org, {"type": "t", "n": 99})
    assert again == events.Head(1, lost.epoch)
    fresh = await events.read_since(org, 0, epoch=lost.epoch)
    assert fresh is not None and [e["n"] for _, e in fresh] == [99]
    assert await events.read_since(org, 1, epoch=lost.epoch) == []


async def test_a_lost_counter_drops_the_old_log_and_a_lost_log_keeps_the_epoch() -> None:
    redis = get_redis()
    assert redis is not None
    org = uuid.uuid4()
    meta_key, log_key = events.stream_keys(org)
    old = [await events.append(org, {"type": "t", "n": n}) for n in range(5)]
    await redis.delete(meta_key)  # the counter and epoch only: the log holds ids 1..5
    new = await events.append(org, {"type": "t", "n": 50})  # would not fit behind 5-0
    assert new.seq == 1 and new.epoch != old[0].epoch
    assert [e["n"] for _, e in await events.read_since(org, 0) or []] == [50]
    await redis.delete(log_key)  # the log only: the sequence goes on, the gap is visible
    later = await events.append(org, {"type": "t", "n": 51})
    assert later == events.Head(2, new.epoch)
    assert await events.read_since(org, 0, epoch=new.epoch) is None  # entry 1 is gone
    tail = await events.read_since(org, 1, epoch=new.epoch)
    assert tail is not None and [(s, e["n"]) for s, e in tail] == [(2, 51)]
