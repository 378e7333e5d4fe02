"""Outbox benchmark: deliveries per second of one worker process (one core), the relay of
`booking.*` events to the organizations' live streams (Redis), the most common topic.

Enqueues ROWS rows in one transaction (spread over ORGS organizations), then times one
worker draining them (`OutboxWorker.drain_once` in a loop: claim a batch with SKIP LOCKED,
deliver, mark each row delivered), then the same with two workers at once. Its own database
(movehub_bench_outbox) and Redis database 13. Writes bench-results/outbox.json.

Run: uv run --frozen python -m tests.bench.bench_outbox [--rows 5000]
"""

from __future__ import annotations

import os
import sys

_DB = os.environ.setdefault("MOVEHUB_BENCH_DB", "movehub_bench_outbox")
os.environ.update(
    {
        "MOVEHUB_DATABASE_URL": f"postgresql+asyncpg://movehub_app:movehub_app@127.0.0.1:5432/{_DB}",
        "MOVEHUB_OWNER_DATABASE_URL": f"postgresql+asyncpg://movehub_owner:movehub_owner@127.0.0.1:5432/{_DB}",
        "MOVEHUB_REDIS_URL": os.environ.get("MOVEHUB_BENCH_REDIS", "redis://127.0.0.1:6379/13"),
        "MOVEHUB_LOG_LEVEL": "WARNING",
        "MOVEHUB_RAY_ENABLED": "false",
    }
)

import asyncio  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

from sqlalchemy import text  # noqa: E402

from actors.outbox import OutboxWorker  # noqa: E402
from persistence.bootstrap import migrate, recreate_database  # noqa: E402
from persistence.config import get_settings  # noqa: E402
from persistence.outbox import outbox_row  # noqa: E402
from persistence.session import SYSTEM, tenant_session  # noqa: E402
from tests.factories import make_org  # noqa: E402

ORGS = 20


async def enqueue(rows: int, orgs: list[uuid.UUID]) -> None:
    async with tenant_session(SYSTEM) as session:
        for i in range(rows):
            org = orgs[i % len(orgs)]
            await session.execute(
                outbox_row(
                    "booking.updated",
                    {"booking_id": str(uuid.uuid4()), "org_id": str(org), "n": i},
                    org_id=org,
                )
            )


async def pending() -> int:
    async with tenant_session(SYSTEM) as session:
        return int(
            (await session.execute(text("SELECT count(*) FROM outbox WHERE status = 'pending'"))).scalar_one()
        )


async def drain(workers: int) -> float:
    settings = get_settings()
    each = [OutboxWorker(settings) for _ in range(workers)]

    async def loop(worker: OutboxWorker) -> None:
        while await worker.drain_once():
            pass

    started = time.perf_counter()
    await asyncio.gather(*(loop(w) for w in each))
    return time.perf_counter() - started


async def measure(rows: int) -> dict[str, object]:
    orgs = [(await make_org()).id for _ in range(ORGS)]
    figures: dict[str, object] = {"rows": rows, "batch": get_settings().outbox_batch_size}
    for workers in (1, 2):
        await enqueue(rows, orgs)
        seconds = await drain(workers)
        left = await pending()
        figures[f"workers_{workers}_s"] = round(seconds, 2)
        figures[f"workers_{workers}_per_s"] = round(rows / seconds, 1)
        figures[f"workers_{workers}_left"] = left
    return figures


def main() -> None:
    rows = int(sys.argv[sys.argv.index("--rows") + 1]) if "--rows" in sys.argv else 5000
    recreate_database(_DB, get_settings())
    migrate()
    load = os.getloadavg()
    figures = asyncio.run(measure(rows))
    figures["loadavg_before"] = [round(x, 2) for x in load]
    figures["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(figures, indent=2))
    out = Path("bench-results/outbox.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
