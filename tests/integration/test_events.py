"""Per-org event streams on real Redis: sequence numbers, resume, isolation, too-old."""

import uuid

from persistence import events


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
