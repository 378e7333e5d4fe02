"""Routes: the driver web app (static HTML, ES modules, CSS, a web app manifest and a service
worker; no build step, no CDN). It lives under /driver/ so its service worker's scope covers it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse

from gateway.routes.static_files import CSS, JAVASCRIPT, StaticFiles, modules

router = APIRouter(tags=["driver"])
# The only files the app is made of (main.js imports the other modules and the board's
# state, api, signin, lifecycle and map); anything else under /driver/ is a 404.
MODULES = ("main", "state", "outbox", "link", "geo", "view")
DRIVER = StaticFiles(
    "driver",
    {
        **modules(*MODULES),
        "driver.css": CSS,
        "manifest.webmanifest": "application/manifest+json",
        "icon.svg": "image/svg+xml",
    },
    "driver app asset",
)
WORKER_SCOPE = "/driver/"


@router.get("/driver", include_in_schema=False)
async def driver_entry(request: Request) -> RedirectResponse:
    """To the app's own path (what the service worker controls), keeping the query."""
    query = request.url.query
    return RedirectResponse(WORKER_SCOPE + (f"?{query}" if query else ""), status_code=307)


@router.get("/driver/", include_in_schema=False)
async def driver_page() -> FileResponse:
    """The driver app: sign in (cookie session, or `?token=` for demo links), then drive."""
    return DRIVER.page()


@router.get("/driver/sw.js", include_in_schema=False)
async def driver_worker() -> FileResponse:
    """The service worker, scoped to /driver/ (never cached by the browser's HTTP cache, so an
    update is seen on the next visit)."""
    return DRIVER.file("sw.js", JAVASCRIPT, {"Service-Worker-Allowed": WORKER_SCOPE})


@router.get("/driver/{asset}", include_in_schema=False)
async def driver_asset(asset: str) -> FileResponse:
    """One of the app's files, by name from the allow-list (never a path into the disk)."""
    return DRIVER.asset(asset)
