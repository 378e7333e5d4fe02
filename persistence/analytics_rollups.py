"""Refreshing the analytics rollups of migration 0019: one row per organization, zone and day.

`refresh_rollups` (the scheduler's `analytics_rollups` job, every minute) recomputes the closed
days whose rows changed (the analytics_dirty log the triggers append to) and rolls up the
closed days of the last week that have no rollup yet; `rebuild=True` (`movehub
analytics-rollups --rebuild`, for operators) recomputes every closed day since each
organization's first booking. Each batch runs in one transaction under an advisory lock (one
refresh at a time): it deletes the log rows it saw, deletes and re-inserts those days' figures
and marks them rolled up. A change committed meanwhile leaves its log row behind, so readers
keep counting that day live until the next run. Days count in each organization's zone and in
UTC; an organization that moved to another zone loses the other zone's rollups.
"""

# ruff: noqa: S608  (statements are joined from this module's constants; values are bound)
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.session import SYSTEM, tenant_session
from persistence.statuses import BookingStatus

log = structlog.get_logger("movehub.analytics")

RECENT_DAYS = 7
BATCH_DAYS = 2_000
# Baked into analytics_driver_days.on_time; the repository reads live for another grace.
ON_TIME_GRACE = timedelta(minutes=15)
# One refresh at a time (the key spells "anal"); JIT compiling costs more than it saves.
_LOCKED = text("SELECT pg_advisory_xact_lock(1634623852), set_config('jit', 'off', true)")

Key = tuple[Any, str, date]

_ARRAYS = "CAST(:orgs AS uuid[]), CAST(:zones AS varchar[]), CAST(:days AS date[])"
_KEYS = f"unnest({_ARRAYS}) AS k(org_id, zone, day)"
# Each key's bookings by an index range scan: the day's bounds are computed apart (OFFSET 0:
# not inlined, since AT TIME ZONE is not leakproof and row-level security would then filter
# the org's every booking first) and the lateral subquery is not flattened into a hash join.
_DAY_ROWS = (
    "FROM (SELECT org_id, zone, day, (day::timestamp AT TIME ZONE zone) AS lo,"
    f" ((day + 1)::timestamp AT TIME ZONE zone) AS hi FROM {_KEYS} OFFSET 0) AS k"
    " CROSS JOIN LATERAL (SELECT b.id, b.status, b.currency, b.price_cents, b.window_start"
    " FROM bookings b WHERE b.org_id = k.org_id AND b.window_start >= k.lo"
    " AND b.window_start < k.hi OFFSET 0) b"
)
_CLOSED = "((day + 1)::timestamp AT TIME ZONE zone) <= :now"
_ZONES = (
    "CROSS JOIN LATERAL (SELECT DISTINCT z FROM"
    " (VALUES (o.timezone::varchar), ('UTC'::varchar)) v(z)) AS zz(zone)"
)

_STALE_ZONES = (
    "DELETE FROM {table} r USING organizations o"
    " WHERE o.id = r.org_id AND r.zone <> 'UTC' AND r.zone <> o.timezone"
)
_TABLES = ("analytics_booking_days", "analytics_driver_days", "analytics_truck_days", "analytics_rollup_days")
_PICK_DIRTY = text(
    "WITH picked AS (SELECT DISTINCT org_id, zone, day FROM analytics_dirty"
    f" WHERE {_CLOSED} LIMIT :limit)"
    " DELETE FROM analytics_dirty d USING picked p"
    " WHERE d.org_id = p.org_id AND d.zone = p.zone AND d.day = p.day"
    " RETURNING d.org_id, d.zone, d.day"
)
# Closed days without a rollup in the last RECENT_DAYS, or (rebuild) every closed day since
# the organization's first booking. A day's rollup rows and its analytics_rollup_days row are
# written and deleted together (readers rely on it).
_MISSING = text(
    "SELECT o.id, zz.zone, d.day FROM organizations o " + _ZONES + " CROSS JOIN LATERAL"
    " (SELECT g::date AS day FROM generate_series("
    "   CASE WHEN :rebuild THEN (SELECT (min(b.window_start) AT TIME ZONE zz.zone)::date"
    "     FROM bookings b WHERE b.org_id = o.id) ELSE CAST(:first AS date) END,"
    "   CAST(:last AS date), interval '1 day') g) AS d"
    " WHERE EXISTS (SELECT 1 FROM bookings b WHERE b.org_id = o.id)"  # none: all live, cheaply
    " AND ((d.day + 1)::timestamp AT TIME ZONE zz.zone) <= :now"
    " AND (:rebuild OR NOT EXISTS (SELECT 1 FROM analytics_rollup_days c"
    "  WHERE c.org_id = o.id AND c.zone = zz.zone AND c.day = d.day))"
    " ORDER BY d.day DESC"
)
_RECOMPUTE = (
    *(
        f"DELETE FROM {table} r USING {_KEYS} WHERE r.org_id = k.org_id AND r.zone = k.zone AND r.day = k.day"
        for table in _TABLES[:3]
    ),
    "INSERT INTO analytics_booking_days (org_id, zone, day, status, currency, bookings, price_cents)"
    " SELECT k.org_id, k.zone, k.day, b.status, b.currency, count(*), coalesce(sum(b.price_cents), 0) "
    + _DAY_ROWS
    + " GROUP BY 1, 2, 3, 4, 5",
    "INSERT INTO analytics_driver_days (org_id, zone, day, driver_id, jobs, completed, arrivals,"
    " on_time) SELECT k.org_id, k.zone, k.day, a.driver_id, count(*),"
    " count(*) FILTER (WHERE b.status = :completed), count(h.arrived_at),"
    " count(*) FILTER (WHERE h.arrived_at <= b.window_start + :grace) "
    + _DAY_ROWS
    + " JOIN booking_assignments a ON a.booking_id = b.id AND a.active"
    " LEFT JOIN LATERAL (SELECT min(created_at) AS arrived_at FROM booking_status_history"
    "  WHERE booking_id = b.id AND to_status = :arrived) h ON TRUE"
    " GROUP BY 1, 2, 3, 4",
    "INSERT INTO analytics_truck_days (org_id, zone, day, truck_id, jobs, busy_seconds)"
    " SELECT k.org_id, k.zone, k.day, a.truck_id, count(*),"
    " coalesce(sum(extract(epoch FROM upper(a.window) - lower(a.window))), 0) "
    + _DAY_ROWS
    + " JOIN booking_assignments a ON a.booking_id = b.id AND a.active GROUP BY 1, 2, 3, 4",
    "INSERT INTO analytics_rollup_days (org_id, zone, day, refreshed_at)"
    f" SELECT k.org_id, k.zone, k.day, now() FROM {_KEYS}"
    " ON CONFLICT (org_id, zone, day) DO UPDATE SET refreshed_at = excluded.refreshed_at",
)


@dataclass(slots=True)
class RefreshReport:
    days: int = 0
    changed: int = 0
    batches: int = 0


async def _recompute(session: AsyncSession, keys: Sequence[Key]) -> None:
    params = {
        "orgs": [k[0] for k in keys],
        "zones": [k[1] for k in keys],
        "days": [k[2] for k in keys],
        "completed": BookingStatus.COMPLETED.value,
        "arrived": BookingStatus.ARRIVED.value,
        "grace": ON_TIME_GRACE,
    }
    for statement in _RECOMPUTE:
        used = {name: value for name, value in params.items() if f":{name}" in statement}
        await session.execute(text(statement), used)


async def refresh_rollups(
    now: datetime | None = None, *, rebuild: bool = False, batch_days: int = BATCH_DAYS
) -> RefreshReport:
    """Bring the rollups up to date with the rows (see the module's docstring)."""
    now = now or datetime.now(UTC)
    report = RefreshReport()
    async with tenant_session(SYSTEM) as session:
        await session.execute(_LOCKED)
        for table in _TABLES:
            await session.execute(text(_STALE_ZONES.format(table=table)))
        today = now.astimezone(UTC).date()
        missing = (
            await session.execute(
                _MISSING,
                {
                    "rebuild": rebuild,
                    "first": today - timedelta(days=RECENT_DAYS + 1),
                    "last": today + timedelta(days=1),
                    "now": now,
                },
            )
        ).all()
    wanted: list[Key] = [(o, z, d) for o, z, d in missing]
    while True:
        async with tenant_session(SYSTEM) as session:
            await session.execute(_LOCKED)
            changed = (await session.execute(_PICK_DIRTY, {"now": now, "limit": batch_days})).all()
            keys = dict.fromkeys((o, z, d) for o, z, d in changed)
            report.changed += len(keys)
            while wanted and len(keys) < batch_days:
                keys.setdefault(wanted.pop(), None)
            if not keys:
                break
            await _recompute(session, list(keys))
        report.days += len(keys)
        report.batches += 1
    log.info("analytics_rollups", days=report.days, changed=report.changed, rebuild=rebuild)
    return report


async def refresh_analytics_rollups(now: datetime) -> int:
    """The scheduler's job: the changed closed days and the last week's new ones."""
    return (await refresh_rollups(now)).days
