"""The scheduler: one named Ray actor per cluster running the periodic jobs of actors/jobs.py.

Named with get_if_exists, so any number of gateway replicas share one scheduler; a job that
raises is logged and tried again at its next tick, never stopping the others.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import ray
import structlog

from actors.jobs import JOBS, Job
from persistence.config import Settings
from persistence.telemetry import environment, setup, traced

log = structlog.get_logger("movehub.scheduler")
SCHEDULER_NAME = "movehub-scheduler"


@traced(lambda job, *_, **__: f"job {job.name}", root=True)
async def run_job(job: Job, now: datetime | None = None) -> object:
    """Run one job once, logging instead of raising (used by the actor and by tests)."""
    try:
        return await job.run(now or datetime.now(UTC))
    except Exception:
        log.exception("job_failed", job=job.name)
        return None


@ray.remote(max_restarts=-1, num_cpus=0)
class Scheduler:
    def __init__(self, telemetry: dict[str, str] | None = None) -> None:
        setup("scheduler", telemetry)  # the creator's OTEL_* variables: traces alike
        self._next_run = {job.name: 0.0 for job in JOBS}
        self._stopping = False
        self._running = False

    async def run(self) -> None:
        """The loop; a second call (another replica starting) returns at once."""
        if self._running:
            return
        self._running = True
        while not self._stopping:
            now = time.monotonic()
            for job in JOBS:
                if now >= self._next_run[job.name]:
                    self._next_run[job.name] = now + job.interval_s
                    await run_job(job)
            await asyncio.sleep(1.0)

    async def stop(self) -> None:
        self._stopping = True

    async def jobs(self) -> list[str]:
        return [job.name for job in JOBS]


class SchedulerHandle:
    def __init__(self, actor: ray.actor.ActorHandle) -> None:  # type: ignore[type-arg]
        self.actor = actor

    async def close(self) -> None:
        """Leave the shared scheduler running for other replicas; it dies with the cluster."""


async def start_scheduler(settings: Settings) -> SchedulerHandle:
    actor = Scheduler.options(  # type: ignore[attr-defined]
        name=SCHEDULER_NAME,
        namespace=settings.ray_namespace,
        get_if_exists=True,
        lifetime="detached",
    ).remote(environment())
    actor.run.remote()
    return SchedulerHandle(actor)
