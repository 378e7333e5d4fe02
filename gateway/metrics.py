"""GET /metrics for Prometheus, not for the public: a bearer token, or loopback in development.

With MOVEHUB_METRICS_TOKEN set, a scrape must send `Authorization: Bearer <token>` (compared
in constant time; anything else is 401). Without one, only loopback clients get an answer and
only in development/test; everyone else gets 404, as if there were no such route.
"""

from __future__ import annotations

import hmac
from ipaddress import ip_address

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from dispatch.errors import NotFound, Unauthorized
from persistence import metrics as gathered
from persistence.config import RELAXED_ENVIRONMENTS, Settings

router = APIRouter(tags=["health"])


def _is_loopback(host: str) -> bool:
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False  # a unix socket path or a test client's name: not provably local


def _bearer(request: Request) -> str:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else ""


def check_scrape(request: Request, settings: Settings) -> None:
    """Raise unless this request may read the metrics."""
    if settings.metrics_token:
        presented = _bearer(request).encode()
        if not hmac.compare_digest(presented, settings.metrics_token.encode()):
            raise Unauthorized("metrics need Authorization: Bearer <MOVEHUB_METRICS_TOKEN>")
        return
    client = request.client.host if request.client else ""
    if settings.environment not in RELAXED_ENVIRONMENTS or not _is_loopback(client):
        raise NotFound("Not Found")  # word for word what a path that does not exist answers


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    check_scrape(request, request.app.state.settings)
    state = request.app.state
    # The shards, the outbox actor and the database are asked at most every REFRESH_S, with
    # timeouts; an app without its lifespan (no pools, no Ray) reports only its own series.
    if getattr(state, "realtime", None) is not None:
        await gathered.refresh(state.fleet, state.outbox)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
