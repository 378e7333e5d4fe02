"""Routes: the driver and board websockets (docs/realtime-protocol.md), and the real-time
counters the benchmark reads (only when MOVEHUB_REALTIME_STATS_ENABLED)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, WebSocket

from dispatch.errors import NotFound
from gateway.realtime.board import serve_board
from gateway.realtime.driver import serve_driver

router = APIRouter()


@router.websocket("/ws/driver")
async def driver_socket(websocket: WebSocket) -> None:
    await serve_driver(websocket, websocket.app.state.realtime)


@router.websocket("/ws/board")
async def board_socket(websocket: WebSocket) -> None:
    await serve_board(websocket, websocket.app.state.realtime)


@router.get("/realtime/stats", include_in_schema=False)
async def realtime_stats(request: Request) -> dict[str, Any]:
    realtime = request.app.state.realtime
    if not realtime.settings.realtime_stats_enabled:
        raise NotFound("not found")
    stats = dict(realtime.stats())
    if request.query_params.get("reset"):
        realtime.batcher.stats.reset()  # a benchmark phase starts counting afresh
        if realtime.hub.hops is not None:
            realtime.hub.hops.reset()
    return stats
