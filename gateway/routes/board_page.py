"""Routes: the live fleet board page (static HTML, ES modules and CSS; no build step, no CDN)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse

from gateway.routes.static_files import CSS, NO_STALE, StaticFiles, modules

router = APIRouter(tags=["board"])
# The only files the page is made of (main.js imports the other modules); anything else under
# /board/ is a 404.
MODULES = ("main", "state", "lifecycle", "api", "socket", "map", "panels", "signin")
BOARD = StaticFiles("board", {**modules(*MODULES), "board.css": CSS}, "board asset")


@router.get("/board", include_in_schema=False)
async def board_page() -> FileResponse:
    """The fleet board: sign in (cookie session, or `?token=` for demo links), then watch."""
    return BOARD.page()


@router.get("/board/config.json", include_in_schema=False)
async def board_config(request: Request) -> JSONResponse:
    """What the page needs to know about this server: the optional map tile URL template."""
    settings = request.app.state.settings
    # An optional raster tile template ({z}/{x}/{y}); empty draws the plain projected frame.
    tile_url = settings.board_tile_url
    return JSONResponse(
        {"tile_url": tile_url, "board_socket": "/ws/board", "api": "/api/v1"}, headers=NO_STALE
    )


@router.get("/board/{asset}", include_in_schema=False)
async def board_asset(asset: str) -> FileResponse:
    """One of the page's files, by name from the allow-list (never a path into the disk)."""
    return BOARD.asset(asset)
