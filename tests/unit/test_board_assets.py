"""The board page's files and the route's allow-list agree: every module the page imports is
served (as JavaScript, which browsers require of module scripts), nothing else is."""

from __future__ import annotations

import re

from gateway.routes.board_page import BOARD
from persistence.statuses import BOOKING_STATUSES

ASSETS, BOARD_DIR = BOARD.assets, BOARD.directory

IMPORT = re.compile(r'^import\s.*?\sfrom\s+"\./([\w-]+\.js)";', re.M | re.S)
ENTRY = re.compile(r'<script type="module" src="/board/([\w-]+\.js)"></script>')


def imported_by(module: str) -> set[str]:
    return set(IMPORT.findall((BOARD_DIR / module).read_text()))


def test_every_file_of_the_page_is_served_and_nothing_else() -> None:
    on_disk = {path.name for path in BOARD_DIR.iterdir()} - {"index.html"}
    assert set(ASSETS) == on_disk


def test_the_page_reaches_every_module_from_its_one_entry_script() -> None:
    entries = ENTRY.findall((BOARD_DIR / "index.html").read_text())
    assert entries == ["main.js"]
    reached, todo = set(), list(entries)
    while todo:
        module = todo.pop()
        if module not in reached:
            reached.add(module)
            todo.extend(imported_by(module))
    assert reached == {name for name in ASSETS if name.endswith(".js")}
    assert all(ASSETS[name].startswith("text/javascript") for name in reached)


def test_no_module_keeps_its_own_copy_of_the_booking_statuses() -> None:
    # The vocabulary comes from GET /api/v1/lifecycle; only the colour map names statuses.
    for name in ASSETS:
        if not name.endswith(".js"):
            continue
        text = (BOARD_DIR / name).read_text()
        if name == "lifecycle.js":
            text = re.sub(r"const COLORS = \{.*?\};", "", text, flags=re.S)
        for status in BOOKING_STATUSES:
            assert f'"{status}"' not in text, (name, status)
