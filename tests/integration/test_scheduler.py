"""The scheduler: its job registry runs with a controllable clock; one actor per cluster."""

from datetime import UTC, datetime

import pytest
import ray

from actors.jobs import JOBS
from actors.scheduler import SCHEDULER_NAME, run_job, start_scheduler
from persistence.config import get_settings


async def test_every_job_runs_with_a_given_clock() -> None:
    for job in JOBS:
        result = await run_job(job, datetime(2030, 1, 1, tzinfo=UTC))
        assert result is not None, job.name


@pytest.mark.skipif(not get_settings().ray_enabled, reason="needs the session's Ray")
async def test_replicas_share_one_scheduler_actor(app: object) -> None:
    first = await start_scheduler(get_settings())
    second = await start_scheduler(get_settings())
    assert first.actor._actor_id == second.actor._actor_id
    actor = ray.get_actor(SCHEDULER_NAME, namespace=get_settings().ray_namespace)
    jobs = await actor.jobs.remote()
    assert "booking_reminders" in jobs
    assert "refund_retry" not in jobs  # refund sends are retried by the outbox worker
