"""The driver app's files, the route's allow-list and the service worker's app shell agree:
every module the app imports (its own and the board's) is served as JavaScript and kept by
the worker, so the app opens without a network; the page has no inline script or style (the
CSP forbids them); the manifest installs it under the worker's scope; no module keeps its own
copy of the booking statuses."""

from __future__ import annotations

import json
import re

from gateway.routes import board_page, driver_page
from gateway.routes.driver_page import DRIVER, WORKER_SCOPE
from persistence.statuses import BOOKING_STATUSES

ASSETS, DRIVER_DIR = DRIVER.assets, DRIVER.directory

IMPORT = re.compile(r'^import\s.*?\sfrom\s+"(\./|/board/)([\w-]+\.js)";', re.M | re.S)
ENTRY = re.compile(r'<script type="module" src="/driver/([\w-]+\.js)"></script>')
STYLES = re.compile(r'<link rel="stylesheet" href="(/[\w/.-]+)"\s*/?>')


def imports(path: str) -> set[str]:
    """The modules one module imports, as absolute paths."""
    folder, name = path.rsplit("/", 1)
    base = DRIVER_DIR if folder == "/driver" else board_page.BOARD.directory
    found = IMPORT.findall((base / name).read_text())
    return {(folder + "/" if where == "./" else where) + module for where, module in found}


def reached() -> set[str]:
    html = (DRIVER_DIR / "index.html").read_text()
    entries = ENTRY.findall(html)
    assert entries == ["main.js"]
    seen: set[str] = set()
    todo = ["/driver/main.js"]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(imports(module))
    return seen


def shell() -> set[str]:
    worker = (DRIVER_DIR / "sw.js").read_text()
    listed = re.search(r"const SHELL = \[(.*?)\];", worker, re.S)
    assert listed is not None
    return set(re.findall(r'"([^"]+)"', listed.group(1)))


def test_every_file_of_the_app_is_served_and_nothing_else() -> None:
    on_disk = {path.name for path in DRIVER_DIR.iterdir()} - {"index.html", "sw.js"}
    assert set(ASSETS) == on_disk


def test_every_module_is_reached_served_as_javascript_and_kept_for_offline() -> None:
    modules = reached()
    own = {m.removeprefix("/driver/") for m in modules if m.startswith("/driver/")}
    assert own == {name for name in ASSETS if name.endswith(".js")}
    assert all(ASSETS[name].startswith("text/javascript") for name in own)
    borrowed = {m.removeprefix("/board/") for m in modules if m.startswith("/board/")}
    assert borrowed >= {"signin.js", "map.js", "lifecycle.js", "api.js", "state.js"}
    assert all(board_page.BOARD.assets.get(name, "").startswith("text/javascript") for name in borrowed)
    styles = set(STYLES.findall((DRIVER_DIR / "index.html").read_text()))
    assert styles == {"/board/board.css", "/driver/driver.css"}
    # The worker keeps exactly the page, its files, what it borrows and the vocabulary.
    assert shell() == (
        {WORKER_SCOPE} | {f"/driver/{name}" for name in ASSETS} | modules | styles | {"/api/v1/lifecycle"}
    )


def test_no_inline_script_or_style() -> None:
    html = (DRIVER_DIR / "index.html").read_text()
    assert re.findall(r"<script\b[^>]*>", html) == ['<script type="module" src="/driver/main.js">']
    assert "<style" not in html and " style=" not in html and "javascript:" not in html
    for name in ASSETS:
        if name.endswith(".js"):
            text = (DRIVER_DIR / name).read_text()
            assert "innerHTML" not in text and 'setAttribute("style"' not in text, name
            assert "eval(" not in text and "new Function" not in text, name


def test_the_manifest_installs_the_app_under_the_workers_scope() -> None:
    manifest = json.loads((DRIVER_DIR / "manifest.webmanifest").read_text())
    assert manifest["scope"] == manifest["start_url"] == manifest["id"] == WORKER_SCOPE
    assert manifest["display"] == "standalone" and manifest["name"]
    for icon in manifest["icons"]:
        assert icon["src"].removeprefix(WORKER_SCOPE) in ASSETS
    assert driver_page.DRIVER.assets["manifest.webmanifest"] == "application/manifest+json"


def test_no_module_keeps_its_own_copy_of_the_booking_statuses() -> None:
    # The vocabulary comes from GET /api/v1/lifecycle (moves, driver statuses, groups).
    for name in ASSETS:
        if name.endswith(".js"):
            text = (DRIVER_DIR / name).read_text()
            for status in BOOKING_STATUSES:
                assert f'"{status}"' not in text, (name, status)
