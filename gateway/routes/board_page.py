"""Routes: the live fleet board page (static HTML, ES modules and CSS; no build step, no CDN)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse

from dispatch.errors import NotFound

router = APIRouter(tags=["board"])
BOARD_DIR = Path(__file__).resolve().parent.parent / "static" / "board"
JAVASCRIPT = "text/javascript; charset=utf-8"  # browsers load module scripts only with this
# The only files the page is made of (main.js imports the other modules); anything else under
# /board/ is a 404.
MODULES = ("main", "state", "lifecycle", "api", "socket", "map", "panels", "signin")
ASSETS = {
    **{f"{module}.js": JAVASCRIPT for module in MODULES},
    "board.css": "text/css; charset=utf-8",
}
# The page changes with the code, never with the data: revalidate instead of caching blindly.
NO_STALE = {"Cache-Control": "no-cache"}


@router.get("/board", include_in_schema=False)
async def board_page() -> FileResponse:
    """The fleet board: sign in (cookie session, or `?token=` for demo links), then watch."""
    return FileResponse(BOARD_DIR / "index.html", media_type="text/html; charset=utf-8", headers=NO_STALE)


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
    media_type = ASSETS.get(asset)
    if media_type is None:
        raise NotFound(f"no board asset named {asset!r}")
    return FileResponse(BOARD_DIR / asset, media_type=media_type, headers=NO_STALE)
