"""The breadcrumb trail's day partitions: create the days ahead, drop the days past retention.

The scheduler runs `maintain_position_partitions` hourly (actors/jobs.py), and once at its
start. The DDL runs inside the SECURITY DEFINER functions of migration 0011 (the app role owns
no table); which days to create or drop is decided here, by `partition_plan`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import structlog
from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.config import Settings, get_settings
from persistence.session import SYSTEM, tenant_session

log = structlog.get_logger("movehub.positions")

PARENT = "driver_breadcrumbs"
_DAY_NAME = re.compile(rf"^{PARENT}_(\d{{8}})$")
_PARTITIONS = text("""
SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'driver_breadcrumbs'::regclass
""")
_CREATE = text("SELECT breadcrumb_partition_create(:day)")
_DROP = text("SELECT breadcrumb_partition_drop(:day)")
# After the drops, only the default partition (pings of days that had no partition) can hold
# rows older than the cutoff: pruning keeps this delete off the day partitions.
_PURGE_DEFAULT = text("DELETE FROM driver_breadcrumbs WHERE recorded_at < :cutoff")
# Creating or dropping a partition locks the parent; waiting long for that lock would queue
# the position writer behind it. Give up instead: the next hourly run tries again.
_LOCK_TIMEOUT = text("SET LOCAL lock_timeout = '5s'")
_DATABASE_NOW = text("SELECT now()")
MAX_CLOCK_AHEAD = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class PartitionPlan:
    create: list[date]
    drop: list[date]


def partition_plan(
    existing: Iterable[date], today: date, *, ahead_days: int, retention_days: int
) -> PartitionPlan:
    """Today and `ahead_days` more must exist; days before today - retention_days go."""
    have = set(existing)
    wanted = [today + timedelta(days=n) for n in range(ahead_days + 1)]
    oldest_kept = today - timedelta(days=retention_days)
    return PartitionPlan(
        create=[day for day in wanted if day not in have],
        drop=sorted(day for day in have if day < oldest_kept),
    )


def partition_name(day: date) -> str:
    return f"{PARENT}_{day:%Y%m%d}"


async def partition_days(session: AsyncSession) -> list[date]:
    """The days that have a partition (the default partition is no day)."""
    names = (await session.execute(_PARTITIONS)).scalars()
    matches = (_DAY_NAME.match(name) for name in names)
    return sorted(datetime.strptime(m.group(1), "%Y%m%d").date() for m in matches if m)


@dataclass(slots=True)
class PartitionReport:
    created: list[date] = field(default_factory=list)
    dropped: list[date] = field(default_factory=list)
    purged: int = 0
    retention_skipped: bool = False  # the clock was ahead of the database's


async def _apply(statement: TextClause, day: date) -> bool:
    async with tenant_session(SYSTEM) as session:
        await session.execute(_LOCK_TIMEOUT)
        return bool((await session.execute(statement, {"day": day})).scalar())


async def _retire(plan: PartitionPlan, cutoff: datetime, report: PartitionReport) -> None:
    for day in plan.drop:
        if await _apply(_DROP, day):
            report.dropped.append(day)
    async with tenant_session(SYSTEM) as session:
        result = await session.execute(_PURGE_DEFAULT, {"cutoff": cutoff})
        report.purged = int(result.rowcount)  # type: ignore[attr-defined]


async def maintain_position_partitions(now: datetime, settings: Settings | None = None) -> PartitionReport:
    """One pass: create the missing days, drop the expired ones, purge old default rows.

    Each partition is its own short transaction, so one lock timeout costs only that day.
    Dropping is data loss, so it waits while `now` runs ahead of the database's own clock
    (a host with a wrong clock, or a test's future date): only creating goes ahead then.
    """
    settings = settings or get_settings()
    today = now.astimezone(UTC).date()
    async with tenant_session(SYSTEM) as session:
        existing = await partition_days(session)
        database_now: datetime = (await session.execute(_DATABASE_NOW)).scalar_one()
    plan = partition_plan(
        existing,
        today,
        ahead_days=settings.positions_partitions_ahead_days,
        retention_days=settings.positions_retention_days,
    )
    report = PartitionReport()
    for day in plan.create:
        if await _apply(_CREATE, day):
            report.created.append(day)
    if now - database_now > MAX_CLOCK_AHEAD:
        report.retention_skipped = True
        log.warning("positions.retention_skipped", now=now.isoformat(), database_now=database_now.isoformat())
    else:
        cutoff = datetime.combine(today - timedelta(days=settings.positions_retention_days), time(), UTC)
        await _retire(plan, cutoff, report)
    if report.created or report.dropped or report.purged:
        log.info(
            "positions.partitions",
            created=[str(d) for d in report.created],
            dropped=[str(d) for d in report.dropped],
            purged=report.purged,
        )
    return report
