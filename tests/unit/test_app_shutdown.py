"""The app's shutdown gives each part a bounded time: a part that hangs or fails is logged and
the next part is still closed."""

from __future__ import annotations

import asyncio

from gateway.app import _closing


async def test_a_hanging_or_failing_part_does_not_keep_the_next_open() -> None:
    closed: list[str] = []

    async def hangs() -> None:
        await asyncio.Event().wait()

    async def fails() -> None:
        raise RuntimeError("the actor is dead")

    async def closes() -> None:
        closed.append("redis")

    await _closing("fleet", hangs(), seconds=0.05)
    await _closing("outbox", fails(), seconds=1)
    await _closing("redis", closes(), seconds=1)
    assert closed == ["redis"]
