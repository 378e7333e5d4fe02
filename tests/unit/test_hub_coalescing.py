"""The board hub's send path without a server: frames encoded once per org, at most one pending
tick per board (newer ticks merge into it, newest position wins), events in strict order and
never dropped one by one (a full queue drops the board to a snapshot), the one watchdog for
sockets that take nothing, and the wire bytes of a pre-encoded frame."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import orjson
import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from gateway.realtime.connection import Closing, Outgoing, Outlet
from gateway.realtime.hub import BoardHub, BoardLink, Room

EPOCH = "e1"


class FakeSocket(Outlet):
    """A socket whose buffer is full (`open = False`) or takes everything."""

    def __init__(self) -> None:
        self.open = True
        self.written: list[Outgoing] = []

    def writable(self) -> bool:
        return self.open

    def write(self, frame: Outgoing) -> None:
        assert self.open, "written while the socket's buffer was full"
        self.written.append(frame)

    def frames(self) -> list[dict[str, Any]]:
        taken, self.written = self.written, []
        return [orjson.loads(f.data) for f in taken]


def world(boards: int = 1, limit: int = 64) -> tuple[BoardHub, Room, list[BoardLink], list[FakeSocket]]:
    hub = BoardHub(tick_ms=100, queue_frames=limit)
    org = uuid.uuid4()
    room = Room(org_id=org, last_seq=0, ticked=0, epoch=EPOCH)
    hub.rooms[org] = room
    sockets = [FakeSocket() for _ in range(boards)]
    links = []
    for sock in sockets:
        link = BoardLink(org, limit, sock)
        link.mode, link.epoch, link.timeout_s = "live", EPOCH, 5.0
        room.boards.add(link)
        links.append(link)
    return hub, room, links, sockets


def move(hub: BoardHub, room: Room, driver: str, lat: float) -> None:
    hub.on_positions(
        room.org_id, [{"id": driver, "lat": lat, "lon": 13.4, "online": True, "ts": time.time()}]
    )


def event(hub: BoardHub, room: Room) -> int:
    seq = room.last_seq + 1
    assert hub.on_event(room.org_id, seq, {"type": "booking.updated", "data": {"n": seq}})
    return seq


def test_a_board_that_keeps_up_gets_events_then_the_tick_each_tick() -> None:
    hub, room, [link], [sock] = world()
    move(hub, room, "a", 52.1)
    first = event(hub, room)
    hub.tick()
    events_frame, tick = sock.frames()
    assert events_frame["type"] == "events" and [e["seq"] for e in events_frame["events"]] == [first]
    assert tick["type"] == "tick" and tick["seq"] == first and tick["epoch"] == EPOCH
    assert [(d["id"], d["lat"]) for d in tick["drivers"]] == [("a", 52.1)]
    hub.tick()  # nothing changed: nothing sent
    assert sock.frames() == [] and not link.backlog


def test_frames_are_encoded_once_per_org_not_per_board() -> None:
    hub, room, _links, sockets = world(boards=3)
    move(hub, room, "a", 52.1)
    event(hub, room)
    hub.tick()
    events_frames = {id(s.written[0]) for s in sockets}
    ticks = {id(s.written[1]) for s in sockets}
    assert len(events_frames) == 1 and len(ticks) == 1  # the very same objects
    assert sockets[0].written[1].wire is sockets[2].written[1].wire  # and the same wire bytes


def test_a_board_behind_its_socket_holds_one_tick_with_the_newest_positions() -> None:
    hub, room, [slow, _fast], [slow_sock, fast_sock] = world(boards=2)
    slow_sock.open = False
    for lat in (52.1, 52.2, 52.3):
        move(hub, room, "a", lat)
        move(hub, room, "b", lat + 1)
        hub.tick()
    move(hub, room, "c", 50.0)
    hub.tick()
    assert len(fast_sock.frames()) == 4  # one tick per tick for the board that keeps up
    assert slow.tick_drivers is not None and set(slow.tick_drivers) == {"a", "b", "c"}
    assert not slow.queue  # ticks never queue up behind each other
    slow_sock.open = True
    hub.tick()  # nothing new: the pending tick goes out
    [tick] = slow_sock.frames()
    assert tick["type"] == "tick" and tick["seq"] == room.last_seq
    assert {d["id"]: d["lat"] for d in tick["drivers"]} == {"a": 52.3, "b": 53.3, "c": 50.0}
    assert not slow.backlog and slow.stalled_at is None


def test_events_keep_their_order_behind_a_full_socket_and_the_tick_comes_last() -> None:
    hub, room, [link], [sock] = world()
    sock.open = False
    published = []
    for lat in (52.1, 52.2, 52.3, 52.4):
        published += [event(hub, room), event(hub, room)]
        move(hub, room, "a", lat)
        hub.tick()
    assert len(link.queue) == 4 and link.tick_drivers is not None
    sock.open = True
    link.flush()
    *events_frames, tick = sock.frames()
    assert [e["seq"] for f in events_frames for e in f["events"]] == published  # all, in order
    assert tick["type"] == "tick" and tick["seq"] == published[-1] == link.cursor
    assert [d["lat"] for d in tick["drivers"]] == [52.4]


def test_a_full_queue_drops_the_board_to_a_snapshot_not_single_events() -> None:
    hub, room, [link], [sock] = world(limit=3)
    sock.open = False
    for _ in range(3):
        event(hub, room)
        move(hub, room, "a", 52.0)
        hub.tick()
    assert len(link.queue) == 3 and link.drops == 0
    event(hub, room)
    hub.tick()
    assert link.mode == "snapshot" and link.drops == 1
    assert not link.queue and link.tick_drivers is None  # nothing stale is left to send
    event(hub, room)
    move(hub, room, "a", 52.5)
    hub.tick()
    assert not link.backlog  # until its snapshot is sent, the board is offered nothing


def test_a_board_that_catches_up_from_the_rooms_recent_events_gets_its_own_tick() -> None:
    hub, room, [_ahead, behind], [sock_ahead, sock_behind] = world(boards=2)
    first = event(hub, room)
    hub.tick()
    sock_behind.frames()
    behind.cursor = 0  # e.g. went live on an older snapshot
    second = event(hub, room)
    move(hub, room, "a", 52.1)
    hub.tick()
    frames = sock_behind.frames()
    assert [e["seq"] for f in frames if f["type"] == "events" for e in f["events"]] == [first, second]
    assert frames[-1]["type"] == "tick" and frames[-1]["seq"] == second
    assert sock_ahead.frames()[-1]["seq"] == second


def test_the_watchdog_fails_a_board_whose_socket_took_nothing_due() -> None:
    hub, room, [stuck, moving], [stuck_sock, moving_sock] = world(boards=2)
    stuck_sock.open = moving_sock.open = False
    event(hub, room)
    hub.tick()
    assert stuck.stalled_at is not None and moving.stalled_at is not None
    stuck.stalled_at -= 4.0  # both have taken nothing for 4 s
    moving.stalled_at -= 4.0
    hub.watch(time.monotonic())
    assert stuck.failure is None and moving.failure is None  # not yet: the timeout is 5 s
    moving_sock.open = True
    moving.flush()  # it took something: its clock starts again
    moving_sock.open = False
    event(hub, room)
    hub.tick()
    stuck.stalled_at -= 2.0  # 6 s without taking anything
    hub.watch(time.monotonic())
    assert isinstance(stuck.failure, Closing) and stuck.failure.code == 1013
    assert stuck.wake.is_set()
    assert moving.failure is None and moving.stalled_at is not None
    with pytest.raises(Closing):
        stuck.check()


async def test_send_now_waits_for_the_socket_and_gives_up_with_the_watchdog() -> None:
    _hub, _room, [link], [sock] = world()
    sock.open = False
    snapshot = Outgoing(b'{"type":"snapshot"}')
    sender = asyncio.create_task(link.send_now(snapshot))
    await asyncio.sleep(0.12)
    assert not sender.done() and link.stalled_at is not None
    sock.open = True
    await asyncio.wait_for(sender, 1)
    assert sock.frames() == [{"type": "snapshot"}] and link.stalled_at is None
    sock.open = False
    sender = asyncio.create_task(link.send_now(snapshot))
    await asyncio.sleep(0.06)
    assert link.stalled_at is not None
    link.watch(link.stalled_at + link.timeout_s)
    with pytest.raises(Closing):
        await asyncio.wait_for(sender, 1)


def test_a_reply_goes_out_behind_the_queued_events() -> None:
    hub, room, [link], [sock] = world()
    sock.open = False
    seq = event(hub, room)
    hub.tick()
    link.say(Outgoing(b'{"type":"heartbeat"}'))
    assert len(link.queue) == 2
    sock.open = True
    link.say(Outgoing(b'{"type":"heartbeat"}'))
    assert [f["type"] for f in sock.frames()] == ["events", "heartbeat", "heartbeat"]
    assert link.cursor == seq


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 200_000])
def test_the_wire_bytes_are_the_websocket_frame_a_client_parses(size: int) -> None:
    data = orjson.dumps({"pad": "x" * size})
    frame = Outgoing(data)
    expected = Frame(Opcode.TEXT, data).serialize(mask=False, extensions=[])
    assert frame.wire == expected
    reader = StreamReader()
    reader.feed_data(frame.wire)
    parser = Frame.parse(reader.read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        parsed = done.value
    assert parsed.opcode is Opcode.TEXT and parsed.fin and parsed.data == data


class SlowAsgiSocket:
    """Another server's websocket: each send takes a while (no uvicorn protocol behind it)."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.release = asyncio.Event()

    async def _receive(self) -> dict[str, Any]:
        raise AssertionError("not read here")

    async def send_text(self, text: str) -> None:
        await self.release.wait()
        self.sent.append(text)


async def test_on_another_server_frames_go_through_one_drain_task_in_order() -> None:
    from gateway.realtime.connection import AsgiOutlet, outlet

    sock = SlowAsgiSocket()
    out = outlet(sock)  # type: ignore[arg-type]
    assert isinstance(out, AsgiOutlet)
    try:
        link = BoardLink(uuid.uuid4(), 8, out)
        link.mode, link.epoch = "live", EPOCH
        link.say(Outgoing(b'{"n":1}'))  # taken: on its way
        await asyncio.sleep(0)
        assert not out.writable()  # one frame in flight: the link holds back the rest
        link.say(Outgoing(b'{"n":2}'))
        link.say(Outgoing(b'{"n":3}'))
        assert len(link.queue) == 2 and link.stalled_at is not None
        sock.release.set()
        async with asyncio.timeout(2):
            while link.queue or not out.writable():
                await asyncio.sleep(0.01)
                link.flush()
        assert sock.sent == ['{"n":1}', '{"n":2}', '{"n":3}']
    finally:
        out.close()
