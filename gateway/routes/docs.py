"""Routes: the Swagger UI page (/docs) under its own CSP, which admits exactly what it loads.

FastAPI's page loads Swagger UI from a CDN and starts it with one inline script. Its CSP
names those origins and the inline script's SHA-256 (computed from the page as rendered), so
nothing else can run there. Offline, /docs shows no UI; /openapi.json is always served here.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from gateway.security import CSP, base_policy

router = APIRouter(tags=["docs"])
# FastAPI's defaults for swagger_js_url/swagger_css_url and swagger_favicon_url.
ASSET_ORIGIN = "https://cdn.jsdelivr.net"
FAVICON_ORIGIN = "https://fastapi.tiangolo.com"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def script_hashes(html: str) -> list[str]:
    """CSP hash sources of each inline <script> (its exact text, UTF-8)."""
    return [
        f"'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'"
        for body in _INLINE_SCRIPT.findall(html)
    ]


@router.get("/docs", include_in_schema=False)
async def swagger_ui(request: Request) -> HTMLResponse:
    app = request.app
    page = get_swagger_ui_html(
        openapi_url=request.scope.get("root_path", "") + app.openapi_url, title=f"{app.title} - Swagger UI"
    )
    policy = base_policy(
        script=[ASSET_ORIGIN, *script_hashes(bytes(page.body).decode())],
        style=[ASSET_ORIGIN],
        img=[FAVICON_ORIGIN],
    )
    page.headers[CSP] = policy.header_value
    return page
