"""Secure defaults at the edge: refuse insecure secrets at start, security headers on every answer."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

import structlog
from fastapi import FastAPI
from secure import (
    ContentSecurityPolicy,
    CrossOriginOpenerPolicy,
    ReferrerPolicy,
    Secure,
    StrictTransportSecurity,
    XContentTypeOptions,
    XFrameOptions,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from persistence.config import Settings, refuse_insecure_settings

HSTS_MAX_AGE_S = 2 * 365 * 24 * 3600
CSP = "content-security-policy"


def check_settings(settings: Settings) -> None:
    """Raise InsecureSettings outside development/test; in development, warn once, loudly."""
    problems = refuse_insecure_settings(settings)
    if problems and settings.environment == "development":
        # A fresh logger each time: a cached one would escape structlog's capture in tests.
        structlog.get_logger("movehub.security").warning(
            "INSECURE SETTINGS: fine for development only; any other environment refuses to start with these",
            problems=problems,
        )


def _origin(url: str) -> str | None:
    """scheme://host[:port] of an absolute URL (None for relative ones: 'self' covers those)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def _socket_origins(public_base_url: str) -> list[str]:
    # CSP3 lets 'self' cover ws(s): of the page's origin, but not every browser does yet.
    origin = _origin(public_base_url)
    if origin is None:
        return []
    host = origin.split("://", 1)[1]
    return [f"ws://{host}", f"wss://{host}"]


def base_policy(
    *,
    script: Iterable[str] = (),
    style: Iterable[str] = (),
    img: Iterable[str] = (),
    connect: Iterable[str] = (),
) -> ContentSecurityPolicy:
    """Same-origin everything, no plugins, no framing; extra sources per directive."""
    return (
        ContentSecurityPolicy()
        .default_src("'self'")
        .script_src("'self'", *script)
        .style_src("'self'", *style)
        .img_src("'self'", "data:", *img)
        .connect_src("'self'", *connect)
        .object_src("'none'")
        .base_uri("'none'")
        .form_action("'self'")
        .frame_ancestors("'none'")
    )


def page_policy(settings: Settings) -> str:
    """The board page (and every other answer): its own scripts, socket and optional tiles."""
    tiles = _origin(settings.board_tile_url)
    return base_policy(
        img=[tiles] if tiles else [], connect=_socket_origins(settings.public_base_url)
    ).header_value


def security_headers(settings: Settings) -> dict[str, str]:
    """The headers every HTTP answer carries (HSTS only where cookies are Secure, i.e. HTTPS)."""
    secure = Secure(
        xcto=XContentTypeOptions(),
        referrer=ReferrerPolicy().no_referrer(),  # the board's ?token= link must not leak
        xfo=XFrameOptions().deny(),
        coop=CrossOriginOpenerPolicy().same_origin(),
        csp=ContentSecurityPolicy().value(page_policy(settings)),
        hsts=(
            StrictTransportSecurity().max_age(HSTS_MAX_AGE_S).include_subdomains()
            if settings.cookie_secure
            else None
        ),
    )
    return dict(secure.headers)


class SecurityHeaders:
    """Pure ASGI: adds each header a response has not set itself (the /docs page sets its CSP)."""

    def __init__(self, app: ASGIApp, headers: Mapping[str, str]) -> None:
        self.app = app
        self.headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in self.headers if h[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install(app: FastAPI, settings: Settings) -> None:
    """Wrap the whole middleware stack: Starlette's ServerErrorMiddleware answers 500s outside
    every add_middleware() layer, and those answers must carry the headers too."""
    headers = security_headers(settings)
    build = app.build_middleware_stack

    def build_with_headers() -> ASGIApp:
        return SecurityHeaders(build(), headers)

    app.build_middleware_stack = build_with_headers  # type: ignore[method-assign]
