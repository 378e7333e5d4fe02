"""Invalid frames on a real driver socket: forgotten over time (a leaky bucket), so a driver
whose clock runs about 5 s ahead keeps its socket, while a burst still closes with 4400."""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway.realtime import connection
from tests.factories import auth_headers, make_driver, make_org, make_user
from tests.integration.realtime_server import closed_with, connect, ping, recv_json


async def test_invalid_frames_are_forgotten_over_time_but_a_burst_closes(
    ws_base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    window_s = 4.0  # 20 frames in 4 s: one forgotten every 0.2 s
    monkeypatch.setattr(connection, "INVALID_WINDOW_S", window_s)
    org = await make_org()
    user = await make_user("driver", org)
    headers = auth_headers(user, await make_driver(org, user=user))
    async with connect(f"{ws_base}/ws/driver", headers) as ws:
        await recv_json(ws)

        async def invalid(count: int) -> None:
            for _ in range(count):
                await ws.send(ping(52.5, 13.4, ts=time.time() + 6))  # a clock 6 s ahead
                answer = await recv_json(ws)
                assert answer["type"] == "error" and "future" in answer["detail"]

        await invalid(connection.MAX_INVALID)  # as many as the bucket holds
        await asyncio.sleep(window_s + 0.5)  # forgotten
        await invalid(connection.MAX_INVALID)  # the 40th of this life: still open
        await ws.send('{"type":"heartbeat"}')
        assert (await recv_json(ws))["type"] == "heartbeat"
        for _ in range(5):  # no time to forget: over the bucket
            await ws.send(ping(52.5, 13.4, ts=time.time() + 6))
        code, reason = await closed_with(ws)
    assert code == 4400 and "too many invalid" in reason
