"""The nine analytics views: one function each, over a scope the caller may read.

Staff read their organization; platform admins the whole platform, or one organization with
`org_id`. Another tenant's (or an unknown) organization is NotFound. Ranges are whole days in
the scope's time zone. Read-only: the gateway runs these in an analytics session
(persistence.session), which may be a replica lagging the primary by a moment.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.analytics.schemas import (
    MONEY_METRICS,
    BookingMetrics,
    Bucket,
    Dashboard,
    DriverMetrics,
    DriverPerformance,
    InvoiceMetrics,
    RatingMetrics,
    SupportMetrics,
    Trend,
    TrendMetric,
    TrendPoint,
    TruckMetrics,
    TruckUtilization,
    VerificationMetrics,
)
from dispatch.errors import NotFound, ValidationFailed
from dispatch.support.rules import LEVELS
from persistence.repositories.analytics import AnalyticsRepository, Window
from persistence.session import Caller
from persistence.statuses import BOOKING_STATUSES, BookingStatus, InvoiceStatus

DEFAULT_DAYS = 30
MAX_DAYS = 366
ON_TIME_GRACE = timedelta(minutes=15)
WORKING_DAY_HOURS = 10.0  # a truck busy 10 h on each day of the range is 100 % used
_ENDED = (BookingStatus.COMPLETED, BookingStatus.CANCELLED, BookingStatus.NO_SHOW)


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


async def resolve_window(
    session: AsyncSession,
    caller: Caller,
    org_id: uuid.UUID | None,
    date_from: date | None,
    date_to: date | None,
    today: date | None = None,
) -> Window:
    """The scope and range a request reads: checks tenancy (404) and the range (422)."""
    repo = AnalyticsRepository(session)
    if not caller.is_admin:
        if caller.org_id is None or (org_id is not None and org_id != caller.org_id):
            raise NotFound("no such organization")
        org_id = caller.org_id
    zone, scoped = "UTC", None
    if org_id is not None:
        found = await repo.organization_zone(org_id)
        if found is None:
            raise NotFound("no such organization")
        zone, scoped = found[0], org_id
    tz = ZoneInfo(zone)
    today = today or datetime.now(tz).date()
    last = date_to or today
    first = date_from or last - timedelta(days=DEFAULT_DAYS - 1)
    if last < first:
        raise ValidationFailed("`to` must not be before `from`", field="to")
    if (last - first).days + 1 > MAX_DAYS:
        raise ValidationFailed(f"a range spans at most {MAX_DAYS} days", field="from")
    try:
        start = datetime.combine(first, time(), tz).astimezone(UTC)
        end = datetime.combine(last + timedelta(days=1), time(), tz).astimezone(UTC)
    except (OverflowError, ValueError) as error:  # the calendar's first or last days
        raise ValidationFailed("the range is outside the calendar", field="to") from error
    return Window(org_id=scoped, start=start, end=end, timezone=zone, first_day=first, last_day=last)


def _scope(window: Window) -> dict[str, Any]:
    return {
        "scope": "platform" if window.org_id is None else "organization",
        "org_id": window.org_id,
        "timezone": window.timezone,
        "date_from": window.first_day,
        "date_to": window.last_day,
    }


def _days(window: Window) -> int:
    return (window.last_day - window.first_day).days + 1


async def booking_metrics(session: AsyncSession, window: Window) -> BookingMetrics:
    rows = await AnalyticsRepository(session).bookings_by_status_and_currency(window)
    return _booking_metrics(window, rows)


def _booking_metrics(window: Window, rows: list[tuple[str, str, int, int]]) -> BookingMetrics:
    by_status = dict.fromkeys(BOOKING_STATUSES, 0)
    revenue: dict[str, int] = {}
    completed_by_currency: dict[str, int] = {}
    for status, currency, count, price in rows:
        by_status[status] = by_status.get(status, 0) + count
        if status == BookingStatus.COMPLETED:
            revenue[currency] = revenue.get(currency, 0) + price
            completed_by_currency[currency] = completed_by_currency.get(currency, 0) + count
    total = sum(by_status.values())
    completed = by_status[BookingStatus.COMPLETED]
    cancelled, no_shows = by_status[BookingStatus.CANCELLED], by_status[BookingStatus.NO_SHOW]
    return BookingMetrics(
        **_scope(window),
        total=total,
        by_status=by_status,
        completed=completed,
        cancelled=cancelled,
        no_shows=no_shows,
        completion_rate=_rate(completed, sum(by_status[s] for s in _ENDED)),
        cancellation_rate=_rate(cancelled, total),
        no_show_rate=_rate(no_shows, total),
        revenue_cents=revenue,
        average_price_cents={c: revenue[c] // n for c, n in completed_by_currency.items()},
    )


async def driver_metrics(session: AsyncSession, window: Window, limit: int = 10) -> DriverMetrics:
    repo = AnalyticsRepository(session)
    active, verified, rating = await repo.driver_counts(window)
    per_driver = await repo.driver_jobs(window, ON_TIME_GRACE)
    leaders = sorted(per_driver, key=lambda r: (-r[2], -r[1]))[:limit]
    names = await repo.driver_names([r[0] for r in leaders])
    top = [
        DriverPerformance(
            driver_id=d,
            full_name=names.get(d, ("", 0.0))[0],
            jobs=j,
            completed_jobs=c,
            on_time_jobs=o,
            on_time_rate=round(o / a, 4) if a else None,
            rating_avg=names.get(d, ("", 0.0))[1],
        )
        for d, j, c, a, o in leaders
    ]
    top.sort(key=lambda p: (-p.completed_jobs, -p.rating_avg, -p.jobs))
    arrivals = sum(r[3] for r in per_driver)
    return DriverMetrics(
        **_scope(window),
        active_drivers=active,
        verified_drivers=verified,
        jobs=sum(r[1] for r in per_driver),
        completed_jobs=sum(r[2] for r in per_driver),
        on_time_rate=round(sum(r[4] for r in per_driver) / arrivals, 4) if arrivals else None,
        on_time_grace_minutes=int(ON_TIME_GRACE.total_seconds() // 60),
        rating_avg=None if rating is None else round(rating, 2),
        top_performers=top,
    )


async def truck_metrics(session: AsyncSession, window: Window, limit: int = 100) -> TruckMetrics:
    days = _days(window)
    capacity = days * WORKING_DAY_HOURS
    rows = []
    for truck_id, plate, count, hours, busy_days in await AnalyticsRepository(session).truck_jobs(window):
        rows.append(
            TruckUtilization(
                truck_id=truck_id,
                plate=plate,
                jobs=count,
                busy_hours=round(hours, 2),
                utilization=_utilization(hours, capacity),
                idle_days=days - busy_days,
            )
        )
    rows.sort(key=lambda t: (t.utilization, t.plate))
    return TruckMetrics(
        **_scope(window),
        active_trucks=len(rows),
        working_day_hours=WORKING_DAY_HOURS,
        fleet_utilization=_fleet_utilization([t.utilization for t in rows]),
        idle_truck_days=sum(t.idle_days for t in rows),
        trucks=rows[:limit],
    )


def _utilization(hours: float, capacity: float) -> float:
    return round(min(hours / capacity, 1.0), 4)


def _fleet_utilization(utilizations: list[float]) -> float:
    return round(sum(utilizations) / len(utilizations), 4) if utilizations else 0.0


def _filled(window: Window, bucket: Bucket, rows: list[tuple[date, float]]) -> list[TrendPoint]:
    """Every bucket of the range in order, zero where no row fell."""
    values = dict(rows)
    points, day = [], _bucket_start(window.first_day, bucket)
    while day <= window.last_day:
        points.append(TrendPoint(bucket_start=day, value=round(values.get(day, 0.0), 4)))
        day = _next_bucket(day, bucket)
    return points


def _bucket_start(day: date, bucket: Bucket) -> date:
    if bucket == Bucket.WEEK:
        return day - timedelta(days=day.weekday())
    if bucket == Bucket.MONTH:
        return day.replace(day=1)
    return day


def _next_bucket(day: date, bucket: Bucket) -> date:
    if bucket == Bucket.WEEK:
        return day + timedelta(days=7)
    if bucket == Bucket.MONTH:
        return (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return day + timedelta(days=1)


async def rating_metrics(
    session: AsyncSession, window: Window, bucket: Bucket = Bucket.WEEK
) -> RatingMetrics:
    repo = AnalyticsRepository(session)
    distribution, hidden, overall, driver = await repo.rating_figures(window)
    trend = await repo.trend(window, TrendMetric.RATING_AVG, bucket, None)
    return RatingMetrics(
        **_scope(window),
        count=sum(distribution.values()),
        hidden=hidden,
        average_overall=None if overall is None else round(overall, 2),
        average_driver=None if driver is None else round(driver, 2),
        distribution={str(stars): distribution.get(stars, 0) for stars in range(1, 6)},
        trend=_filled(window, bucket, trend),
    )


def _seconds(value: object) -> float | None:
    return None if value is None else round(float(value), 1)  # type: ignore[arg-type]


async def support_metrics(
    session: AsyncSession, window: Window, now: datetime | None = None
) -> SupportMetrics:
    repo = AnalyticsRepository(session)
    open_by = await repo.open_tickets_by_priority(window)
    times = await repo.ticket_times(window, now or datetime.now(UTC))
    return SupportMetrics(
        **_scope(window),
        open_total=sum(open_by.values()),
        open_by_priority={p.value: open_by.get(p.value, 0) for p in LEVELS},
        opened=int(times["opened"]),
        resolved=int(times["resolved"]),
        median_first_response_s=_seconds(times["median_first"]),
        average_first_response_s=_seconds(times["average_first"]),
        median_resolution_s=_seconds(times["median_resolution"]),
        average_resolution_s=_seconds(times["average_resolution"]),
        sla_breaches=int(times["sla_breaches"]),
    )


def _today(window: Window) -> date:
    return datetime.now(ZoneInfo(window.timezone)).date()


async def invoice_metrics(session: AsyncSession, window: Window) -> InvoiceMetrics:
    repo = AnalyticsRepository(session)
    issued_rows = await repo.invoice_issue_figures(window)
    by_status = {s.value: 0 for s in InvoiceStatus if s != InvoiceStatus.DRAFT}
    issued_cents: dict[str, int] = {}
    for status, currency, count, total in issued_rows:
        by_status[status] = by_status.get(status, 0) + count
        if status != InvoiceStatus.VOID:
            issued_cents[currency] = issued_cents.get(currency, 0) + total
    paid, days_to_pay = await repo.invoices_paid(window)
    overdue, outstanding = await repo.invoices_outstanding(window, _today(window))
    return InvoiceMetrics(
        **_scope(window),
        issued=sum(by_status.values()),
        issued_cents=issued_cents,
        by_status=by_status,
        paid=paid,
        overdue_now=overdue,
        outstanding_cents=outstanding,
        average_days_to_pay=None if days_to_pay is None else round(days_to_pay, 2),
        collected_cents=await repo.collected(window),
    )


async def verification_metrics(session: AsyncSession, window: Window) -> VerificationMetrics:
    figures = await AnalyticsRepository(session).verification_figures(window, _today(window))
    expiring: dict[str, int] = figures["expiring"]
    return VerificationMetrics(
        **_scope(window),
        pending=figures["pending"],
        approved=figures["approved"],
        rejected=figures["rejected"],
        submitted=figures["submitted"],
        expiring_in_30_days=sum(expiring.values()),
        expiring_by_kind=expiring,
    )


async def trend(
    session: AsyncSession, window: Window, metric: TrendMetric, bucket: Bucket, currency: str | None = None
) -> Trend:
    """One metric per bucket; money metrics count one currency (the organization's, or
    USD platform-wide, unless asked)."""
    if metric in MONEY_METRICS:
        if currency is None:
            zone = (
                await AnalyticsRepository(session).organization_zone(window.org_id) if window.org_id else None
            )
            currency = zone[1] if zone else "USD"
        currency = currency.upper()
    else:
        currency = None
    rows = await AnalyticsRepository(session).trend(window, metric, bucket, currency)
    return Trend(
        **_scope(window),
        metric=metric,
        bucket=bucket,
        currency=currency,
        points=_filled(window, bucket, rows),
    )


async def dashboard(session: AsyncSession, window: Window) -> Dashboard:
    """Headline figures, each counted as its view counts it, in few round trips."""
    repo = AnalyticsRepository(session)
    # The booking figures and the daily trend from one statement's (day, status, currency)
    # rows; the drivers' on-time rate and the trucks' utilization from one more (their totals
    # and each truck's hours over one pass of the live days' jobs, not a group per driver).
    days = await repo.booking_days(window)
    per_status: dict[tuple[str, str], list[int]] = {}
    per_day: dict[date, float] = {}
    for day, status, currency, count, price in days:
        figures = per_status.setdefault((status, currency), [0, 0])
        figures[0] += count
        figures[1] += price
        per_day[day] = per_day.get(day, 0.0) + count
    bookings = _booking_metrics(window, [(s, c, n, p) for (s, c), (n, p) in per_status.items()])
    fleet = await repo.fleet_figures(window, ON_TIME_GRACE)
    if fleet is None:  # another grace than the rollups': the views' own figures
        on_time_rate = (await driver_metrics(session, window, limit=0)).on_time_rate
        utilization = (await truck_metrics(session, window, limit=0)).fleet_utilization
    else:
        arrivals, on_time, hours = fleet
        on_time_rate = round(on_time / arrivals, 4) if arrivals else None
        capacity = _days(window) * WORKING_DAY_HOURS
        # Ascending, as truck_metrics sums them (the same floats in the same order).
        utilization = _fleet_utilization(sorted(_utilization(h, capacity) for h in hours))
    counts = await repo.headline_counts(window, _today(window), datetime.now(UTC))
    rating = counts["rating_avg"]
    return Dashboard(
        **_scope(window),
        bookings=bookings.total,
        completed=bookings.completed,
        revenue_cents=bookings.revenue_cents,
        cancellation_rate=bookings.cancellation_rate,
        no_show_rate=bookings.no_show_rate,
        active_drivers=int(counts["active_drivers"]),
        on_time_rate=on_time_rate,
        fleet_utilization=utilization,
        rating_avg=None if rating is None else round(float(rating), 2),
        open_tickets=int(counts["open_tickets"]),
        sla_breaches=int(counts["sla_breaches"]),
        overdue_invoices=int(counts["overdue"]),
        collected_cents=await repo.collected(window),
        pending_verifications=int(counts["pending_verifications"]),
        expiring_in_30_days=int(counts["expiring"]),
        trend=_filled(window, Bucket.DAY, sorted(per_day.items())),
    )
