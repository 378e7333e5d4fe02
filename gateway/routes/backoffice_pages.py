"""Routes: the back-office pages for mover staff and platform admins (fleet calendar,
analytics, invoices, the verification queue): static HTML, ES modules and CSS like the board
(no build step, no CDN, no inline script); they share the board's sign-in, REST helper and
styles by importing its modules from /board/."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

from dispatch.errors import NotFound

router = APIRouter(tags=["backoffice"])
BACKOFFICE_DIR = Path(__file__).resolve().parent.parent / "static" / "backoffice"
JAVASCRIPT = "text/javascript; charset=utf-8"  # browsers load module scripts only with this
# Each page is /backoffice/<name> (its <name>.html); its entry module is <name>.js.
PAGES = ("calendar", "analytics", "invoices", "verification")
# The only files the pages are made of; anything else under /backoffice/ is a 404.
MODULES = (*PAGES, "common", "charts")
ASSETS = {
    **{f"{module}.js": JAVASCRIPT for module in MODULES},
    "backoffice.css": "text/css; charset=utf-8",
}
# The pages change with the code, never with the data: revalidate instead of caching blindly.
NO_STALE = {"Cache-Control": "no-cache"}


@router.get("/backoffice", include_in_schema=False)
async def backoffice_home() -> RedirectResponse:
    return RedirectResponse("/backoffice/calendar", status_code=307)


@router.get("/backoffice/{name}", include_in_schema=False)
async def backoffice_file(name: str) -> FileResponse:
    """A page by name, or one of the pages' files from the allow-list (never a disk path)."""
    if name in PAGES:
        return FileResponse(
            BACKOFFICE_DIR / f"{name}.html", media_type="text/html; charset=utf-8", headers=NO_STALE
        )
    media_type = ASSETS.get(name)
    if media_type is None:
        raise NotFound(f"no back-office page or asset named {name!r}")
    return FileResponse(BACKOFFICE_DIR / name, media_type=media_type, headers=NO_STALE)
