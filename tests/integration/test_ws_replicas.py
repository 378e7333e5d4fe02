"""Two gateway processes sharing Redis and the database (no Ray): a driver on one, a board on
the other; the board sees the driver move (position bus) and every event (org streams)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from persistence import events
from tests.factories import auth_headers, make_driver, make_org, make_user
from tests.gateway_process import running_gateways
from tests.integration.realtime_server import connect, ping, recv_json, recv_until

# Replicas without Ray: the position bus and the org streams are what they share.
REPLICA_ENV = {"MOVEHUB_RAY_ENABLED": "false", "MOVEHUB_BACKGROUND_WORKERS": "false"}


@pytest.fixture(scope="module")
def two_gateways(database: str) -> Iterator[tuple[str, str]]:
    with running_gateways([(REPLICA_ENV, "replica-a"), (REPLICA_ENV, "replica-b")]) as (a, b):
        yield a.replace("http://", "ws://"), b.replace("http://", "ws://")


async def test_board_on_one_replica_sees_a_driver_on_the_other(two_gateways: tuple[str, str]) -> None:
    replica_a, replica_b = two_gateways
    org = await make_org()
    driver_user = await make_user("driver", org)
    driver = await make_driver(org, user=driver_user)
    board_headers = auth_headers(await make_user("dispatcher", org))
    async with (
        connect(f"{replica_b}/ws/board", board_headers) as board,
        connect(f"{replica_a}/ws/board", board_headers) as board_a,
    ):
        snap = await recv_json(board)
        seq, epoch = snap["seq"], snap["epoch"]
        assert (await recv_json(board_a))["epoch"] == epoch  # one stream, whichever replica
        async with connect(f"{replica_a}/ws/driver", auth_headers(driver_user, driver)) as app_socket:
            assert (await recv_json(app_socket))["type"] == "hello"
            for step in range(3):
                await app_socket.send(ping(52.50 + step / 100, 13.40))
                tick = await recv_until(board, "tick", 5)
                [moved] = tick["drivers"]
                assert moved["id"] == str(driver.id) and moved["lat"] == 52.50 + step / 100
        # An event published anywhere (the outbox relay runs in either replica) reaches both.
        published = await events.publish(org.id, {"type": "booking.created", "data": {"n": 1}})
        for socket in (board, board_a):
            message = await recv_until(socket, "events", 5)
            assert [e["seq"] for e in message["events"]] == [published] == [seq + 1]
            assert message["epoch"] == epoch
    # A board reconnecting to the other replica resumes from its cursor.
    [later] = [await events.publish(org.id, {"type": "booking.updated", "data": {}})]
    async with connect(f"{replica_a}/ws/board?since={seq + 1}&epoch={epoch}", board_headers) as board:
        message = await recv_until(board, "events", 5)
        assert [e["seq"] for e in message["events"]] == [later]
