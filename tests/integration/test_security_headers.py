"""Security headers on every HTTP answer (API, errors, 500s, the board and its files, /docs)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from gateway.app import create_app
from gateway.routes.board_page import BOARD
from persistence.config import get_settings

EVERY_ANSWER = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


def make_app(**overrides: Any) -> FastAPI:
    """An app of its own (no lifespan: none of these routes needs the pools or Ray)."""
    return create_app(get_settings().model_copy(update=overrides))


async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
async def plain(database: str) -> AsyncIterator[httpx.AsyncClient]:
    async for client in http(make_app(cookie_secure=False)):
        yield client


def directives(policy: str) -> dict[str, list[str]]:
    parts = (part.split() for part in policy.split(";") if part.strip())
    return {name: sources for name, *sources in parts}


def assert_secure(response: httpx.Response) -> dict[str, list[str]]:
    for name, value in EVERY_ANSWER.items():
        assert response.headers.get(name) == value, (response.url, name)
    policy = directives(response.headers["content-security-policy"])
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-eval'" not in policy["script-src"]
    return policy


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/healthz", 200),
        ("GET", "/openapi.json", 200),
        ("GET", "/api/v1/nowhere", 404),
        ("GET", "/api/v1/bookings", 401),
        ("DELETE", "/healthz", 405),
        ("POST", "/api/v1/auth/otp/request", 422),
        ("GET", "/board", 200),
        ("GET", "/board/main.js", 200),
        ("GET", "/board/socket.js", 200),
        ("GET", "/board/board.js", 404),
        ("GET", "/board/board.css", 200),
        ("GET", "/board/config.json", 200),
        ("GET", "/board/missing.js", 404),
    ],
)
async def test_every_answer_carries_the_headers(
    plain: httpx.AsyncClient, method: str, path: str, status: int
) -> None:
    response = await plain.request(method, path, json={} if method == "POST" else None)
    assert response.status_code == status, response.text
    policy = assert_secure(response)
    assert policy["script-src"] == ["'self'"]
    assert "strict-transport-security" not in response.headers  # cookies not Secure: no HTTPS


async def test_an_unhandled_500_carries_them_too() -> None:
    app = make_app()

    @app.get("/test-only/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    async for client in http(app):
        response = await client.get("/test-only/boom")
        assert response.status_code == 500
        assert_secure(response)


async def test_hsts_only_when_cookies_are_secure() -> None:
    async for client in http(make_app(cookie_secure=True)):
        hsts = (await client.get("/healthz")).headers["strict-transport-security"]
        assert hsts.startswith("max-age=") and int(hsts.split(";")[0].split("=")[1]) >= 31536000


async def test_the_board_page_policy_admits_its_socket_and_tiles_only() -> None:
    app = make_app(
        public_base_url="https://fleet.example.com",
        board_tile_url="https://tiles.example.net/{z}/{x}/{y}.png",
    )
    async for client in http(app):
        policy = assert_secure(await client.get("/board"))
    assert policy["connect-src"] == ["'self'", "ws://fleet.example.com", "wss://fleet.example.com"]
    assert policy["img-src"] == ["'self'", "data:", "https://tiles.example.net"]
    assert policy["style-src"] == ["'self'"]


async def test_no_tile_server_means_no_foreign_images(plain: httpx.AsyncClient) -> None:
    policy = assert_secure(await plain.get("/board"))
    assert policy["img-src"] == ["'self'", "data:"]


class _Page(HTMLParser):
    """Inline scripts, inline styles, event-handler attributes and external sources."""

    def __init__(self) -> None:
        super().__init__()
        self.inline_scripts: list[str] = []
        self.inline_styles: list[str] = []
        self.handlers: list[str] = []
        self.external: list[tuple[str, str]] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        self.handlers += [name for name in named if name.startswith("on")]
        if named.get("style"):
            self.inline_styles.append(str(named["style"]))
        if tag == "script":
            self._in = None if named.get("src") else "script"
        if tag == "style":
            self._in = "style"
        for attribute in ("src", "href"):
            value = named.get(attribute)
            if value and urlsplit(value).scheme in ("http", "https"):
                self.external.append((tag, value))

    def handle_data(self, data: str) -> None:
        if self._in == "script":
            self.inline_scripts.append(data)
        elif self._in == "style":
            self.inline_styles.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._in = None


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def test_the_board_page_has_nothing_inline_for_the_policy_to_block() -> None:
    page = parse((BOARD.directory / "index.html").read_text())
    assert page.inline_scripts == [] and page.inline_styles == [] and page.handlers == []
    assert page.external == []


async def test_docs_policy_hashes_its_inline_script_and_names_its_asset_origins(
    plain: httpx.AsyncClient,
) -> None:
    response = await plain.get("/docs")
    assert response.status_code == 200
    policy = assert_secure(response)
    page = parse(response.text)
    assert page.inline_scripts  # Swagger UI starts from one inline script
    for script in page.inline_scripts:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy["script-src"]
    allowed = {"script": policy["script-src"], "link": policy["style-src"] + policy["img-src"]}
    for tag, url in page.external:
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}" in allowed[tag], url
    # The board's policy is not the docs' one: no CDN there.
    board = directives((await plain.get("/board")).headers["content-security-policy"])
    assert not any("jsdelivr" in source for source in board["script-src"])


async def test_redoc_is_not_served(plain: httpx.AsyncClient) -> None:
    assert (await plain.get("/redoc")).status_code == 404
