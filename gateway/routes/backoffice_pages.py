"""Routes: the back-office pages for mover staff and platform admins (fleet calendar,
analytics, invoices, the verification queue): static HTML, ES modules and CSS like the board
(no build step, no CDN, no inline script); they share the board's sign-in, REST helper and
styles by importing its modules from /board/."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

from gateway.routes.static_files import CSS, StaticFiles, modules

router = APIRouter(tags=["backoffice"])
# Each page is /backoffice/<name> (its <name>.html); its entry module is <name>.js.
PAGES = ("calendar", "analytics", "invoices", "verification")
# The only files the pages are made of; anything else under /backoffice/ is a 404.
MODULES = (*PAGES, "common", "charts")
BACKOFFICE = StaticFiles(
    "backoffice", {**modules(*MODULES), "backoffice.css": CSS}, "back-office page or asset"
)


@router.get("/backoffice", include_in_schema=False)
async def backoffice_home() -> RedirectResponse:
    return RedirectResponse("/backoffice/calendar", status_code=307)


@router.get("/backoffice/{name}", include_in_schema=False)
async def backoffice_file(name: str) -> FileResponse:
    """A page by name, or one of the pages' files from the allow-list (never a disk path)."""
    if name in PAGES:
        return BACKOFFICE.page(f"{name}.html")
    return BACKOFFICE.asset(name)
