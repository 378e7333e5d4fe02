"""The back-office pages' files and their route agree: every page loads one module script of
its own, every module it imports is served (its own from /backoffice/, shared ones from the
board's allow-list), nothing else is; no page carries inline script or style, an outside URL,
HTML built from strings, or a copy of the booking statuses; every page shows the same nav as
the board."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dispatch.errors import NotFound
from gateway.routes import backoffice_pages, board_page
from gateway.routes.backoffice_pages import BACKOFFICE, PAGES
from persistence.statuses import BOOKING_STATUSES

ASSETS, BACKOFFICE_DIR = BACKOFFICE.assets, BACKOFFICE.directory

IMPORT = re.compile(r'^import\s.*?\sfrom\s+"([./\w-]+\.js)";', re.M | re.S)
SCRIPT = re.compile(r"<script\b[^>]*>", re.I)
ENTRY = re.compile(r'<script type="module" src="/backoffice/([\w-]+\.js)"></script>')
NAV = re.compile(r'<nav class="nav".*?</nav>', re.S)
LINK = re.compile(r'<a\s+href="([^"]+)"\s+data-page="(\w+)"')


def imports(module: str) -> list[str]:
    return IMPORT.findall((BACKOFFICE_DIR / module).read_text())


def html(page: str) -> str:
    return (BACKOFFICE_DIR / f"{page}.html").read_text()


def test_every_file_is_a_page_or_an_allowed_asset_and_nothing_else() -> None:
    on_disk = {path.name for path in BACKOFFICE_DIR.iterdir()}
    assert on_disk == set(ASSETS) | {f"{page}.html" for page in PAGES}


@pytest.mark.parametrize("page", PAGES)
def test_each_page_has_one_module_script_and_nothing_inline(page: str) -> None:
    text = html(page)
    assert SCRIPT.findall(text) == [f'<script type="module" src="/backoffice/{page}.js">']
    assert ENTRY.findall(text) == [f"{page}.js"]
    assert "<style" not in text and " style=" not in text
    assert not re.search(r"\son[a-z]+=", text), "inline event handler"
    assert not re.search(r'(src|href)="(https?:)?//', text), "a file from elsewhere"
    for sheet in re.findall(r'<link rel="stylesheet" href="([^"]+)">', text):
        assert sheet in ("/board/board.css", "/backoffice/backoffice.css")


def test_imports_resolve_to_served_modules_and_every_module_is_reached() -> None:
    reached: set[str] = set()
    todo = [f"{page}.js" for page in PAGES]
    while todo:
        module = todo.pop()
        if module in reached:
            continue
        reached.add(module)
        for target in imports(module):
            if target.startswith("/board/"):
                # Shared with the board, served by its allow-list (never copied here).
                assert target.removeprefix("/board/") in board_page.BOARD.assets, (module, target)
            else:
                assert target.startswith("./"), (module, target)
                todo.append(target.removeprefix("./"))
    assert reached == {name for name in ASSETS if name.endswith(".js")}
    assert all(ASSETS[name].startswith("text/javascript") for name in reached)


def test_the_pages_share_the_boards_sign_in_instead_of_copying_it() -> None:
    common = imports("common.js")
    assert "/board/signin.js" in common and "/board/api.js" in common
    for name in ASSETS:
        if name.endswith(".js"):
            text = (BACKOFFICE_DIR / name).read_text()
            assert "/auth/otp/" not in text, name  # the sign-in form is the board's
            assert "innerHTML" not in text and "insertAdjacentHTML" not in text, name
            # (A trend metric may share a status's word: `metric: "completed"` is no status.)
            text = re.sub(r'metric: "\w+"', "", text)
            for status in BOOKING_STATUSES:
                assert f'"{status}"' not in text, (name, status)


def test_every_page_and_the_board_show_the_same_nav() -> None:
    board_nav = NAV.findall((board_page.BOARD.directory / "index.html").read_text())
    assert len(board_nav) == 1
    expected = LINK.findall(board_nav[0])
    assert [page for _, page in expected] == ["board", *PAGES]
    for page in PAGES:
        navs = NAV.findall(html(page))
        assert len(navs) == 1 and LINK.findall(navs[0]) == expected, page
        assert f'href="/backoffice/{page}"' in navs[0]


async def test_the_route_serves_pages_and_allowed_assets_only() -> None:
    for page in PAGES:
        response = await backoffice_pages.backoffice_file(page)
        assert Path(response.path) == BACKOFFICE_DIR / f"{page}.html"
        assert response.media_type == "text/html; charset=utf-8"
    for name, media_type in ASSETS.items():
        response = await backoffice_pages.backoffice_file(name)
        assert Path(response.path) == BACKOFFICE_DIR / name
        assert response.media_type == media_type
    for name in ("calendar.html", "missing.js", "..", "%2e%2e%2fapp.py", "common"):
        with pytest.raises(NotFound):
            await backoffice_pages.backoffice_file(name)
