"""The real-time parts of one gateway replica, started and stopped by the app lifespan."""

from __future__ import annotations

import contextlib
from typing import Any

from gateway.realtime.batcher import PingBatcher
from gateway.realtime.bus import PositionBus
from gateway.realtime.hub import BoardHub
from gateway.realtime.sessions import SocketSessions
from gateway.realtime.snapshot import SnapshotCache
from persistence.config import Settings
from persistence.positions import PositionWriter


class Realtime:
    def __init__(self, settings: Settings, fleet: Any) -> None:
        self.settings, self.fleet = settings, fleet
        self.hub = BoardHub(settings.board_tick_ms, settings.board_queue_frames)
        self.bus = PositionBus(self.hub.on_positions)
        self.writer = PositionWriter(settings)
        self.snapshots = SnapshotCache(settings.board_snapshot_ttl_s)
        self.batcher = PingBatcher(settings, fleet, self.bus, self.writer)
        self.sessions = SocketSessions(settings)  # closes sockets whose session ended

    def start(self) -> None:
        self.bus.start()
        self.hub.start()
        self.writer.start()
        self.batcher.start()
        self.sessions.start()

    async def close(self) -> None:
        for part in (self.sessions, self.batcher, self.writer, self.hub, self.bus):
            with contextlib.suppress(Exception):
                await part.close()

    def stats(self) -> dict[str, Any]:
        return {
            "ingest": self.batcher.stats.summary(),
            "hub": self.hub.stats(),
            "trail_points_written": self.writer.written,
        }
