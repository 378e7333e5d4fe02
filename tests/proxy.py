"""A TCP proxy the outage tests control: forwards a local port to PostgreSQL or Redis, and
`cut()` makes the server unreachable (open connections reset, new ones refused or
blackholed) while the real server keeps running; `restore()` ends the outage.

It runs its own event loop in a daemon thread, so it keeps forwarding whatever the test's
own loop is doing, and the test drives it with plain blocking calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Coroutine
from typing import Any, Literal

CutMode = Literal["refuse", "blackhole"]
_CHUNK = 64 * 1024


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset (SO_LINGER 0), as a crashed server or a dropped link does."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class TcpProxy:
    """127.0.0.1:<port> -> target_host:target_port, until cut."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.mode: CutMode | None = None  # None: forwarding
        self.accepted = 0  # connections forwarded since start (the tests read it)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, daemon=True, name=f"proxy->{target_port}"
        )
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()  # both ends of every connection
        self._held: set[asyncio.StreamWriter] = set()  # blackholed: accepted, never answered

    # ---- the test's side (blocking) -----------------------------------------------------
    def start(self) -> TcpProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def cut(self, mode: CutMode = "refuse") -> None:
        """Reset every open connection; new ones are refused (nothing listens) or
        blackholed (accepted, then never a byte: connects and handshakes hang)."""
        self._call(self._cut(mode))

    def restore(self) -> None:
        self._call(self._restore())

    def close(self) -> None:
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()

    def _call(self, work: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=10)

    # ---- the proxy's loop ---------------------------------------------------------------
    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _cut(self, mode: CutMode) -> None:
        self.mode = mode
        if mode == "refuse" and self._server is not None:
            self._server.close()  # the port stops listening: connect() is refused
            self._server = None
        for writer in list(self._open | self._held):
            _reset(writer)
        self._open.clear()
        self._held.clear()

    async def _shutdown(self) -> None:
        await self._cut("refuse")  # the reset connections' pipes end by themselves
        pipes = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        if pipes:
            await asyncio.wait(pipes, timeout=2)

    async def _restore(self) -> None:
        for writer in list(self._held):
            _reset(writer)
        self._held.clear()
        self.mode = None
        if self._server is None:
            await self._listen()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode is not None:
            self._held.add(writer)  # blackholed until restore
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            _reset(writer)
            return
        self.accepted += 1
        pair = {writer, up_writer}
        self._open |= pair
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self._open -= pair
            for end in pair:
                end.transport.abort()

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while chunk := await source.read(_CHUNK):
                sink.write(chunk)
                await sink.drain()
        # One side finished: end the other, so neither end waits on a half-open pair.
        sink.transport.abort()
