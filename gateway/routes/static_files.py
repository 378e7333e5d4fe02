"""The pages' files (board, driver app, back office, tracking page): served by name from an
allow-list, never by a path into the disk, and revalidated on every load (they change with the
code, never with the data). No build step, no CDN."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from fastapi.responses import FileResponse

from dispatch.errors import NotFound

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
JAVASCRIPT = "text/javascript; charset=utf-8"  # browsers load module scripts only with this
CSS = "text/css; charset=utf-8"
HTML = "text/html; charset=utf-8"
NO_STALE = {"Cache-Control": "no-cache"}


def modules(*names: str) -> dict[str, str]:
    """The allow-list entries of ES modules by name (`main` is main.js)."""
    return {f"{name}.js": JAVASCRIPT for name in names}


class StaticFiles:
    """One page's directory under gateway/static and the only files it is made of."""

    def __init__(self, directory: str, assets: Mapping[str, str], what: str) -> None:
        self.directory = STATIC_DIR / directory
        self.assets = dict(assets)
        self.what = what

    def page(self, name: str = "index.html") -> FileResponse:
        return FileResponse(self.directory / name, media_type=HTML, headers=NO_STALE)

    def file(self, name: str, media_type: str, headers: Mapping[str, str] | None = None) -> FileResponse:
        return FileResponse(
            self.directory / name, media_type=media_type, headers={**NO_STALE, **(headers or {})}
        )

    def asset(self, name: str) -> FileResponse:
        """A file from the allow-list by name; anything else is a 404."""
        media_type = self.assets.get(name)
        if media_type is None:
            raise NotFound(f"no {self.what} named {name!r}")
        return self.file(name, media_type)
