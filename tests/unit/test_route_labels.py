"""HTTP metrics are labelled by the route's full template, prefix included, never by raw path."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from gateway.observability import REQUESTS, CorrelationMiddleware


def _app() -> FastAPI:
    inner = APIRouter(prefix="/parcels")

    @inner.get("/{parcel_id}/labels/{label}")
    def label(parcel_id: str, label: str) -> dict[str, str]:
        return {"parcel": parcel_id, "label": label}

    app = FastAPI()
    app.include_router(inner, prefix="/api/v9")

    @app.get("/plain")
    def plain() -> dict[str, str]:
        return {}

    app.add_middleware(CorrelationMiddleware)
    return app


def _count(route: str, status: str) -> float:
    return REQUESTS.labels("GET", route, status)._value.get()


def test_an_included_routers_route_is_labelled_with_its_prefix() -> None:
    client = TestClient(_app())
    full = "/api/v9/parcels/{parcel_id}/labels/{label}"
    before = _count(full, "200"), _count("/plain", "200"), _count("unmatched", "404")
    assert client.get("/api/v9/parcels/p-1/labels/fragile").status_code == 200
    assert client.get("/api/v9/parcels/p-2/labels/heavy").status_code == 200
    assert client.get("/plain").status_code == 200
    assert client.get("/api/v9/nowhere").status_code == 404
    after = _count(full, "200"), _count("/plain", "200"), _count("unmatched", "404")
    assert [b - a for a, b in zip(before, after, strict=True)] == [2, 1, 1]
    assert _count("/parcels/{parcel_id}/labels/{label}", "200") == 0  # the prefix is not lost
