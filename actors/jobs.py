"""The periodic jobs the scheduler actor runs: (name, interval in seconds, job(now)).

Each job is an async function of the current time (so tests drive it with a fixed clock),
opening its own transactions; add one line here per job. Retrying work after a commit is not
a job: the outbox worker does it for every topic (refund sends included).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from dispatch.invoices.scheduled import mark_overdue_invoices
from dispatch.notifications.scheduled import enqueue_booking_reminders
from dispatch.support.scheduled import escalate_overdue
from dispatch.verification.scheduled import run_verification_expiry
from persistence.analytics_rollups import refresh_analytics_rollups
from persistence.config import get_settings
from persistence.positions_partitions import maintain_position_partitions


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    interval_s: float
    run: Callable[[datetime], Awaitable[object]]


async def _booking_reminders(now: datetime) -> int:
    return await enqueue_booking_reminders(now, get_settings())


JOBS: list[Job] = [
    Job("booking_reminders", 300.0, _booking_reminders),
    # A daily rule (overdue the day after the due date, in the org's zone), checked hourly so
    # each organization's midnight is caught within the hour rather than within the day.
    Job("invoices_overdue", 3_600.0, mark_overdue_invoices),
    Job("support_escalation", 60.0, escalate_overdue),
    # Reminders are keyed per document and threshold, so an hourly pass sends each once.
    Job("verification_expiry", 3_600.0, run_verification_expiry),
    # Breadcrumb day partitions: a week ahead, the expired ones dropped (issue 13.5).
    Job("positions_partitions", 3_600.0, maintain_position_partitions),
    # Analytics rollups (migration 0019): the closed days changed since, the last week's new.
    Job("analytics_rollups", 60.0, refresh_analytics_rollups),
]
