"""Analytics queries: the nine views' figures aggregated in SQL over the caller's tenant view.

Row-level security keeps staff inside their organization whatever a query asks; the scope is
also named in each statement (`org_id = :org`, or nothing platform-wide) so the planner can use
the (org_id, time) indexes of migration 0015. Ranges are half-open UTC instants
[start, end); bookings count by their window start, invoices by issue date, tickets and
ratings and submissions by their creation. Statuses are bound as parameters, never spelled.

Booking, driver and truck figures read the rollups of migration 0019 for the range's days that
are rolled up in the range's zone (closed days, unchanged since their refresh) and the live
rows for the other days (today, the days changed since, any day not yet rolled up): the same
figures as the live statements, at a row per organization and day instead of per booking
(persistence/analytics_rollups.py refreshes them).
"""

# ruff: noqa: S608  (statements are joined from this module's constants; values are bound)
from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.analytics_rollups import ON_TIME_GRACE as ROLLUP_GRACE
from persistence.statuses import BookingStatus, InvoiceStatus, SubmissionStatus, TicketStatus


@dataclass(frozen=True, slots=True)
class Window:
    """Who and when: an organization (None: platform-wide), a UTC range, its days' zone."""

    org_id: uuid.UUID | None
    start: datetime
    end: datetime
    timezone: str
    first_day: date
    last_day: date

    def params(self, **extra: Any) -> dict[str, Any]:
        return {
            "org": self.org_id,
            "start": self.start,
            "end": self.end,
            "tz": self.timezone,
            "first_day": self.first_day,
            "last_day": self.last_day,
            **extra,
        }


_MARKER = re.compile(r"@(org|currency|local|range|days)\(([\w.]+)\)")


def _expand(sql: str, params: Mapping[str, Any]) -> str:
    """Fill the statement's markers: `@org(col)` scopes to :org (nothing platform-wide),
    `@currency(col)` to :currency when one is asked for, `@local(col)` is the column's local
    time in :tz, `@range(col)` the UTC range and `@days(col)` the range's days (a DATE column).
    Only column names written in this module go in; values are always bound parameters."""

    def fill(match: re.Match[str]) -> str:
        kind, column = match[1], match[2]
        if kind == "org":
            return f"AND {column} = :org" if params.get("org") is not None else ""
        if kind == "currency":
            return f"AND {column} = :currency" if params.get("currency") else ""
        if kind == "local":
            return f"({column} AT TIME ZONE :tz)"
        if kind == "range":
            return f"{column} >= :start AND {column} < :end"
        return f"{column} >= :first_day AND {column} <= :last_day"

    return _MARKER.sub(fill, sql)


_B = {
    "completed": BookingStatus.COMPLETED.value,
    "cancelled": BookingStatus.CANCELLED.value,
    "no_show": BookingStatus.NO_SHOW.value,
}

_BOOKINGS = (
    "SELECT date_trunc(:bucket, @local(window_start))::date AS b, {value}"
    " FROM bookings WHERE @range(window_start) {where} @org(org_id)"
)
_RATINGS = (
    "SELECT date_trunc(:bucket, @local(created_at))::date AS b, {value}"
    " FROM ratings WHERE @range(created_at) AND NOT hidden @org(org_id)"
)
_INVOICES = (
    "SELECT date_trunc(:bucket, issue_date::timestamp)::date AS b, {value}"
    " FROM invoices WHERE @days(issue_date) {where} @org(org_id)"
)
# One statement per trend metric (money metrics keep to one currency); each groups by `b`.
TREND_SQL: Mapping[str, str] = {
    "bookings": _BOOKINGS.format(value="count(*)", where=""),
    "completed": _BOOKINGS.format(value="count(*)", where="AND status = :completed"),
    "cancelled": _BOOKINGS.format(value="count(*)", where="AND status = :cancelled"),
    "no_shows": _BOOKINGS.format(value="count(*)", where="AND status = :no_show"),
    "revenue_cents": _BOOKINGS.format(
        value="coalesce(sum(price_cents), 0)", where="AND status = :completed @currency(currency)"
    ),
    "ratings": _RATINGS.format(value="count(*)"),
    "rating_avg": _RATINGS.format(value="avg(overall)"),
    "tickets_opened": "SELECT date_trunc(:bucket, @local(created_at))::date AS b, count(*)"
    " FROM support_tickets WHERE @range(created_at) @org(org_id)",
    "invoices_issued": _INVOICES.format(value="count(*)", where=""),
    "invoiced_cents": _INVOICES.format(
        value="coalesce(sum(total_cents), 0)", where="AND status <> :void @currency(currency)"
    ),
    "collected_cents": "SELECT date_trunc(:bucket, @local(p.received_at))::date AS b,"
    " coalesce(sum(p.amount_cents), 0) FROM invoice_payments p"
    " JOIN invoices i ON i.id = p.invoice_id"
    " WHERE @range(p.received_at) @currency(i.currency) @org(p.org_id)",
    "verifications_submitted": "SELECT date_trunc(:bucket, @local(created_at))::date AS b,"
    " count(*) FROM verification_submissions"
    " WHERE @range(created_at) @org(org_id)",
}


# The range's days for each organization in scope: whether the day is rolled up in the range's
# zone (and unchanged since), and its UTC bounds for the live rows of the days that are not.
# Materialized: AT TIME ZONE is not leakproof, so inlined bounds would not be index conditions
# under row-level security.
_DAYS = (
    "days AS MATERIALIZED (SELECT o.id AS org_id, d.day,"
    " (d.day::timestamp AT TIME ZONE :tz) AS lo, ((d.day + 1)::timestamp AT TIME ZONE :tz) AS hi,"
    " (c.org_id IS NOT NULL AND x.org_id IS NULL) AS rolled"
    " FROM organizations o CROSS JOIN (SELECT CAST(:first_day AS date) + i AS day"
    "  FROM generate_series(0, CAST(:last_day AS date) - CAST(:first_day AS date)) i) d"
    " LEFT JOIN analytics_rollup_days c ON c.org_id = o.id AND c.zone = :tz AND c.day = d.day"
    "  AND c.day >= :first_day AND c.day <= :last_day"
    " LEFT JOIN (SELECT DISTINCT org_id, day FROM analytics_dirty WHERE zone = :tz"
    "  AND day >= :first_day AND day <= :last_day) x ON x.org_id = o.id AND x.day = d.day"
    " WHERE TRUE @org(o.id))"
)


def _rolled(table: str) -> str:
    """A rollup's rows for the range, but those of days changed since (read live instead).
    A rollup row exists only for a day that is rolled up (written in one transaction with
    analytics_rollup_days, deleted with it), so no join with `days` is needed here. The changed
    days are one hashed subplan (NOT IN: the columns are NOT NULL), not an anti-join probing
    the log once per rollup row (platform-wide, ~54k probes of a month's driver days)."""
    return (
        f"{table} r WHERE r.zone = :tz AND r.day >= :first_day AND r.day <= :last_day"
        " @org(r.org_id) AND (r.org_id, r.day) NOT IN (SELECT x.org_id, x.day"
        "  FROM analytics_dirty x WHERE x.zone = :tz AND x.day >= :first_day"
        "  AND x.day <= :last_day @org(x.org_id))"
    )


# The other days' bookings, each day by an index range scan (lateral: never a hash join over
# every booking of the scope).
_LIVE = (
    "days CROSS JOIN LATERAL (SELECT b.id, b.status, b.currency, b.price_cents, b.window_start"
    " FROM bookings b WHERE b.org_id = days.org_id"
    " AND b.window_start >= days.lo AND b.window_start < days.hi OFFSET 0) b"
)
_LIVE_JOBS = _LIVE + " JOIN booking_assignments a ON a.booking_id = b.id AND a.active"
# Booking rows per day, status and currency: rolled-up days' sums and today's (etc.) rows.
_BOOKING_ROWS = (
    "WITH " + _DAYS + ", rows AS ("
    "SELECT r.day, r.status, r.currency, r.bookings AS n, r.price_cents AS p FROM "
    + _rolled("analytics_booking_days")
    + " UNION ALL SELECT days.day, b.status, b.currency, 1, b.price_cents FROM "
    + _LIVE
    + " WHERE NOT days.rolled) "
)
# Per driver and day: rolled-up days' figures and the other days' jobs (one row each).
_DRIVER_ROWS = (
    "WITH " + _DAYS + ", per AS ("
    "SELECT r.driver_id, r.jobs, r.completed, r.arrivals, r.on_time FROM "
    + _rolled("analytics_driver_days")
    + " UNION ALL SELECT a.driver_id, 1, (b.status = :completed)::int,"
    " (h.arrived_at IS NOT NULL)::int,"
    " coalesce(h.arrived_at <= b.window_start + :grace, false)::int FROM "
    + _LIVE_JOBS
    + " LEFT JOIN LATERAL (SELECT min(created_at) AS arrived_at FROM booking_status_history"
    "  WHERE booking_id = b.id AND to_status = :arrived) h ON TRUE WHERE NOT days.rolled)"
)
# The dashboard's fleet figures in one statement over one pass of the other days' jobs: the
# drivers' arrivals and on-time arrivals (driver_totals) and each active truck's busy hours
# (truck_jobs' hours, in its order-free form), as one row.
_FLEET = (
    "WITH " + _DAYS + ", live AS MATERIALIZED (SELECT b.id, b.window_start, a.truck_id,"
    " extract(epoch FROM upper(a.window) - lower(a.window)) AS seconds FROM "
    + _LIVE_JOBS
    + " WHERE NOT days.rolled), arrived AS (SELECT coalesce(sum(arrivals), 0) AS arrivals,"
    " coalesce(sum(on_time), 0) AS on_time FROM (SELECT r.arrivals, r.on_time FROM "
    + _rolled("analytics_driver_days")
    + " UNION ALL SELECT (h.arrived_at IS NOT NULL)::int,"
    " coalesce(h.arrived_at <= l.window_start + :grace, false)::int FROM live l"
    " LEFT JOIN LATERAL (SELECT min(created_at) AS arrived_at FROM booking_status_history"
    "  WHERE booking_id = l.id AND to_status = :arrived) h ON TRUE) x),"
    " used AS (SELECT truck_id, sum(seconds) / 3600 AS hours FROM ("
    "SELECT r.truck_id, sum(r.busy_seconds) AS seconds FROM "
    + _rolled("analytics_truck_days")
    + " GROUP BY r.truck_id UNION ALL SELECT truck_id, sum(seconds) FROM live GROUP BY truck_id) x"
    " GROUP BY truck_id)"
    " SELECT arrived.arrivals, arrived.on_time, (SELECT array_agg(coalesce(u.hours, 0))"
    " FROM trucks t LEFT JOIN used u ON u.truck_id = t.id WHERE t.status = 'active'"
    " @org(t.org_id)) FROM arrived"
)
_ROLLED_TRENDS: Mapping[str, tuple[str, str]] = {
    "bookings": ("sum(n)", ""),
    "completed": ("sum(n)", "AND status = :completed"),
    "cancelled": ("sum(n)", "AND status = :cancelled"),
    "no_shows": ("sum(n)", "AND status = :no_show"),
    "revenue_cents": ("coalesce(sum(p), 0)", "AND status = :completed @currency(currency)"),
}


_SETTINGS = text("SELECT set_config('jit', 'off', true), set_config('work_mem', '32MB', true)")


class AnalyticsRepository:
    """Read-only aggregates; the session may be a replica's (persistence.session)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._jit_off = False

    async def _rows(self, sql: str, params: Mapping[str, Any]) -> Sequence[Any]:
        if not self._jit_off:
            # For this transaction: statements over many rows cost enough to be JIT-compiled,
            # which takes longer (seconds with inlining) than running them; the platform's
            # rollup rows (a day per driver or truck) sort and hash in memory.
            await self.session.execute(_SETTINGS)
            self._jit_off = True
        return (await self.session.execute(text(_expand(sql, params)), dict(params))).all()

    async def organization_zone(self, org_id: uuid.UUID) -> tuple[str, str] | None:
        """(time zone, currency) of an organization the caller can see, else None."""
        row = (
            await self.session.execute(
                text("SELECT timezone, currency FROM organizations WHERE id = :org"), {"org": org_id}
            )
        ).first()
        return (str(row[0]), str(row[1])) if row else None

    async def bookings_by_status_and_currency(self, window: Window) -> list[tuple[str, str, int, int]]:
        """(status, currency, bookings, price sum) in the range: every booking figure's source."""
        rows = await self._rows(
            _BOOKING_ROWS + "SELECT status, currency, sum(n), coalesce(sum(p), 0) FROM rows"
            " GROUP BY status, currency",
            window.params(),
        )
        return [(s, c, int(n), int(p)) for s, c, n, p in rows]

    async def booking_days(self, window: Window) -> list[tuple[date, str, str, int, int]]:
        """(day, status, currency, bookings, price sum): bookings_by_status_and_currency and
        daily_bookings in one statement (the dashboard needs both)."""
        rows = await self._rows(
            _BOOKING_ROWS + "SELECT day, status, currency, sum(n), coalesce(sum(p), 0) FROM rows"
            " GROUP BY day, status, currency",
            window.params(),
        )
        return [(d, s, c, int(n), int(p)) for d, s, c, n, p in rows]

    async def driver_counts(self, window: Window) -> tuple[int, int, float | None]:
        """(active drivers, of which verified, mean rating of the rated ones) today."""
        row = (
            await self._rows(
                "SELECT count(*), count(*) FILTER (WHERE verified),"
                " avg(rating_avg) FILTER (WHERE rating_avg > 0)"
                " FROM drivers WHERE status = 'active' @org(org_id)",
                window.params(),
            )
        )[0]
        return int(row[0]), int(row[1]), None if row[2] is None else float(row[2])

    async def driver_jobs(
        self, window: Window, grace: timedelta
    ) -> list[tuple[uuid.UUID, int, int, int, int]]:
        """(driver, jobs, completed, arrivals, on-time arrivals) per driver holding jobs."""
        if grace != ROLLUP_GRACE:  # the rollups count on time with their own grace
            return await self._driver_jobs_live(window, grace)
        rows = await self._rows(
            _DRIVER_ROWS + " SELECT driver_id, sum(jobs), sum(completed), sum(arrivals),"
            " sum(on_time) FROM per GROUP BY driver_id",
            window.params(arrived=BookingStatus.ARRIVED.value, grace=grace, **_B),
        )
        return [(d, int(j), int(c), int(a), int(o)) for d, j, c, a, o in rows]

    async def _driver_jobs_live(
        self, window: Window, grace: timedelta
    ) -> list[tuple[uuid.UUID, int, int, int, int]]:
        rows = await self._rows(
            # Each booking's first arrival from one aggregate joined by hash, not a subquery
            # per job: over the platform that was 66k index probes, each paying the policies.
            "SELECT a.driver_id, count(*), count(*) FILTER (WHERE b.status = :completed),"
            " count(h.arrived_at),"
            " count(*) FILTER (WHERE h.arrived_at <= b.window_start + :grace)"
            " FROM bookings b JOIN booking_assignments a ON a.booking_id = b.id AND a.active"
            " LEFT JOIN (SELECT booking_id, min(created_at) AS arrived_at"
            "  FROM booking_status_history WHERE to_status = :arrived @org(org_id)"
            "  GROUP BY booking_id) h ON h.booking_id = b.id"
            " WHERE b.window_start >= :start AND b.window_start < :end @org(b.org_id)"
            " GROUP BY a.driver_id",
            window.params(arrived=BookingStatus.ARRIVED.value, grace=grace, **_B),
        )
        return [(d, int(j), int(c), int(a), int(o)) for d, j, c, a, o in rows]

    async def driver_names(self, driver_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, tuple[str, float]]:
        if not driver_ids:
            return {}
        rows = await self._rows(
            "SELECT id, full_name, rating_avg FROM drivers WHERE id = ANY(:ids)", {"ids": list(driver_ids)}
        )
        return {i: (n, float(r)) for i, n, r in rows}

    async def truck_jobs(self, window: Window) -> list[tuple[uuid.UUID, str, int, float, int]]:
        """Per active truck: (id, plate, jobs, busy hours, days with a job starting)."""
        rows = await self._rows(
            # One row per truck and day on either side (the days are disjoint): days are rows.
            # Each side summed per truck by hash first (not the union sorted by truck).
            "WITH " + _DAYS + ", used AS (SELECT truck_id, sum(jobs) AS jobs,"
            " sum(seconds) / 3600 AS hours, sum(days) AS days FROM ("
            "SELECT r.truck_id, sum(r.jobs) AS jobs, sum(r.busy_seconds) AS seconds,"
            " count(*) AS days FROM "
            + _rolled("analytics_truck_days")
            + " GROUP BY r.truck_id UNION ALL SELECT truck_id, sum(jobs), sum(seconds), count(*)"
            " FROM (SELECT a.truck_id, count(*) AS jobs,"
            " sum(extract(epoch FROM upper(a.window) - lower(a.window))) AS seconds FROM "
            + _LIVE_JOBS
            + " WHERE NOT days.rolled GROUP BY a.truck_id, days.day) l GROUP BY truck_id) x"
            " GROUP BY truck_id)"
            " SELECT t.id, t.plate, coalesce(u.jobs, 0), coalesce(u.hours, 0),"
            " coalesce(u.days, 0) FROM trucks t LEFT JOIN used u ON u.truck_id = t.id"
            " WHERE t.status = 'active' @org(t.org_id)",
            window.params(),
        )
        return [(t, p, int(j), float(h), int(d)) for t, p, j, h, d in rows]

    async def fleet_figures(self, window: Window, grace: timedelta) -> tuple[int, int, list[float]] | None:
        """(arrivals, on-time arrivals, busy hours of each active truck) as driver_totals and
        truck_jobs count them, in one statement; None for another grace than the rollups'."""
        if grace != ROLLUP_GRACE:
            return None
        row = (
            await self._rows(_FLEET, window.params(arrived=BookingStatus.ARRIVED.value, grace=grace, **_B))
        )[0]
        return int(row[0]), int(row[1]), [float(h) for h in row[2] or ()]

    async def headline_counts(self, window: Window, today: date, now: datetime) -> dict[str, Any]:
        """The dashboard's one-number figures in one round trip (each as its view counts it)."""
        row = (
            await self._rows(
                "SELECT (SELECT count(*) FROM drivers WHERE status = 'active' @org(org_id)),"
                " (SELECT avg(overall) FROM ratings WHERE created_at >= :start"
                "  AND created_at < :end AND NOT hidden @org(org_id)),"
                " (SELECT count(*) FROM support_tickets WHERE status IN (:open, :in_progress)"
                "  @org(org_id)),"
                " (SELECT count(*) FROM support_tickets WHERE created_at >= :start"
                "  AND created_at < :end AND coalesce(resolved_at, closed_at, :now) > sla_due_at"
                "  @org(org_id)),"
                " (SELECT count(*) FROM invoices WHERE status IN (:issued, :overdue)"
                "  AND due_date < :today @org(org_id)),"
                " (SELECT count(*) FROM verification_submissions"
                "  WHERE status IN (:pending, :under_review) @org(org_id)),"
                " (SELECT count(*) FROM verification_submissions WHERE status = :approved"
                "  AND expires_on >= :today AND expires_on <= :until @org(org_id))",
                window.params(
                    today=today,
                    now=now,
                    until=today + timedelta(days=30),
                    open=TicketStatus.OPEN.value,
                    in_progress=TicketStatus.IN_PROGRESS.value,
                    issued=InvoiceStatus.ISSUED.value,
                    overdue=InvoiceStatus.OVERDUE.value,
                    **_SUBMISSION,
                ),
            )
        )[0]
        keys = (
            "active_drivers",
            "rating_avg",
            "open_tickets",
            "sla_breaches",
            "overdue",
            "pending_verifications",
            "expiring",
        )
        return dict(zip(keys, row, strict=True))

    async def rating_figures(self, window: Window) -> tuple[dict[int, int], int, float | None, float | None]:
        """(overall stars -> ratings, hidden, mean overall, mean driver stars) in the range."""
        rows = await self._rows(
            "SELECT overall, count(*) FILTER (WHERE NOT hidden), count(*) FILTER (WHERE hidden),"
            " sum(driver_rating) FILTER (WHERE NOT hidden),"
            " count(driver_rating) FILTER (WHERE NOT hidden)"
            " FROM ratings WHERE created_at >= :start AND created_at < :end"
            " @org(org_id) GROUP BY overall",
            window.params(),
        )
        distribution = {int(o): int(n) for o, n, _, _, _ in rows}
        hidden = sum(int(h) for _, _, h, _, _ in rows)
        shown = sum(distribution.values())
        overall = sum(o * n for o, n in distribution.items()) / shown if shown else None
        driver_sum = sum(int(s or 0) for _, _, _, s, _ in rows)
        driver_count = sum(int(c) for _, _, _, _, c in rows)
        return (distribution, hidden, overall, driver_sum / driver_count if driver_count else None)

    async def open_tickets_by_priority(self, window: Window) -> dict[str, int]:
        rows = await self._rows(
            "SELECT priority, count(*) FROM support_tickets"
            " WHERE status IN (:open, :in_progress) @org(org_id) GROUP BY priority",
            window.params(open=TicketStatus.OPEN.value, in_progress=TicketStatus.IN_PROGRESS.value),
        )
        return {str(p): int(n) for p, n in rows}

    async def ticket_times(self, window: Window, now: datetime) -> dict[str, Any]:
        """Tickets opened in the range: counts, response and resolution times, SLA breaches."""
        row = (
            await self._rows(
                "WITH t AS (SELECT created_at, sla_due_at, resolved_at, closed_at,"
                "  extract(epoch FROM first_response_at - created_at) AS first_s,"
                "  extract(epoch FROM coalesce(resolved_at, closed_at) - created_at) AS resolve_s"
                " FROM support_tickets WHERE created_at >= :start AND created_at < :end @org(org_id))"
                " SELECT count(*), count(resolve_s),"
                " percentile_cont(0.5) WITHIN GROUP (ORDER BY first_s), avg(first_s),"
                " percentile_cont(0.5) WITHIN GROUP (ORDER BY resolve_s), avg(resolve_s),"
                " count(*) FILTER (WHERE coalesce(resolved_at, closed_at, :now) > sla_due_at)"
                " FROM t",
                window.params(now=now),
            )
        )[0]
        keys = (
            "opened",
            "resolved",
            "median_first",
            "average_first",
            "median_resolution",
            "average_resolution",
            "sla_breaches",
        )
        return dict(zip(keys, row, strict=True))

    async def invoice_issue_figures(self, window: Window) -> list[tuple[str, str, int, int]]:
        """(status now, currency, invoices, total) of invoices issued in the range."""
        rows = await self._rows(
            "SELECT status, currency, count(*), coalesce(sum(total_cents), 0) FROM invoices"
            " WHERE issue_date >= :first_day AND issue_date <= :last_day"
            " @org(org_id) GROUP BY status, currency",
            window.params(),
        )
        return [(s, c, int(n), int(t)) for s, c, n, t in rows]

    async def invoices_paid(self, window: Window) -> tuple[int, float | None]:
        """(invoices paid in the range, mean days from issue to payment)."""
        row = (
            await self._rows(
                "SELECT count(*), avg((paid_at AT TIME ZONE :tz)::date - issue_date) FROM invoices"
                " WHERE status = :paid AND paid_at >= :start AND paid_at < :end"
                " @org(org_id)",
                window.params(paid=InvoiceStatus.PAID.value),
            )
        )[0]
        return int(row[0]), None if row[1] is None else float(row[1])

    async def invoices_outstanding(self, window: Window, today: date) -> tuple[int, dict[str, int]]:
        """(unpaid past due today, unpaid balance per currency) of issued and overdue invoices."""
        rows = await self._rows(
            "SELECT currency, count(*) FILTER (WHERE due_date < :today),"
            " coalesce(sum(total_cents - paid_cents), 0) FROM invoices"
            " WHERE status IN (:issued, :overdue) @org(org_id) GROUP BY currency",
            window.params(
                today=today, issued=InvoiceStatus.ISSUED.value, overdue=InvoiceStatus.OVERDUE.value
            ),
        )
        return sum(int(n) for _, n, _ in rows), {c: int(b) for c, _, b in rows}

    async def collected(self, window: Window) -> dict[str, int]:
        """Invoice payments received in the range, per currency."""
        rows = await self._rows(
            "SELECT i.currency, coalesce(sum(p.amount_cents), 0) FROM invoice_payments p"
            " JOIN invoices i ON i.id = p.invoice_id"
            " WHERE p.received_at >= :start AND p.received_at < :end"
            " @org(p.org_id) GROUP BY i.currency",
            window.params(),
        )
        return {c: int(a) for c, a in rows}

    async def verification_figures(self, window: Window, today: date) -> dict[str, Any]:
        row = (
            await self._rows(
                "SELECT count(*) FILTER (WHERE status IN (:pending, :under_review)),"
                " count(*) FILTER (WHERE status = :approved AND decided_at >= :start"
                "  AND decided_at < :end),"
                " count(*) FILTER (WHERE status = :rejected AND decided_at >= :start"
                "  AND decided_at < :end),"
                " count(*) FILTER (WHERE created_at >= :start AND created_at < :end)"
                " FROM verification_submissions WHERE TRUE @org(org_id)",
                window.params(**_SUBMISSION),
            )
        )[0]
        expiring = await self._rows(
            "SELECT kind, count(*) FROM verification_submissions"
            " WHERE status = :approved AND expires_on >= :today AND expires_on <= :until"
            " @org(org_id) GROUP BY kind",
            window.params(today=today, until=today + timedelta(days=30), **_SUBMISSION),
        )
        return {
            "pending": int(row[0]),
            "approved": int(row[1]),
            "rejected": int(row[2]),
            "submitted": int(row[3]),
            "expiring": {str(k): int(n) for k, n in expiring},
        }

    async def trend(
        self, window: Window, metric: str, bucket: str, currency: str | None
    ) -> list[tuple[date, float]]:
        """(bucket's first day, value) for the buckets holding any rows, in order."""
        sql = TREND_SQL[metric]
        if metric in _ROLLED_TRENDS:
            value, where = _ROLLED_TRENDS[metric]
            sql = (
                _BOOKING_ROWS + f"SELECT date_trunc(:bucket, day::timestamp)::date AS b, {value}"
                f" FROM rows WHERE TRUE {where}"
            )
        rows = await self._rows(
            sql + " GROUP BY b ORDER BY b",
            window.params(bucket=bucket, currency=currency, void=InvoiceStatus.VOID.value, **_B),
        )
        return [(b, float(v or 0)) for b, v in rows]


_SUBMISSION = {
    "pending": SubmissionStatus.PENDING.value,
    "under_review": SubmissionStatus.UNDER_REVIEW.value,
    "approved": SubmissionStatus.APPROVED.value,
    "rejected": SubmissionStatus.REJECTED.value,
}
