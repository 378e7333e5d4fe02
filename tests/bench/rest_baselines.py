"""The two baselines of `movehub bench rest`, served by uvicorn with the gateway's settings:

- GET /healthz: a bare FastAPI app (no middleware, no dependencies): what the server and the
  framework cost, so the gateway's /healthz shows what its middleware adds;
- POST /insert: one SQLAlchemy-async INSERT per request (BEGIN, INSERT, COMMIT) through the
  gateway's own engine and pool (persistence.session.engine()): the database's ceiling for a
  one-row write, against which booking create, quote and list are put.
"""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import text

from persistence.session import engine

TABLE = "bench_insert"
CREATE_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigserial PRIMARY KEY, "
    "payload jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
)
_INSERT = text(f"INSERT INTO {TABLE} (payload) VALUES (CAST(:payload AS jsonb))")


def create_app() -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/insert", status_code=201)
    async def insert() -> dict[str, str]:
        async with engine().begin() as connection:
            await connection.execute(_INSERT, {"payload": '{"kind": "baseline"}'})
        return {"status": "stored"}

    return app
