"""Analytics rollups (migration 0019): the answers read from rollups plus live rows equal the
live computation over the same rows, before and after changes to closed days, and before and
after the refresh; an organization's rollups stay its own."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.analytics import service
from dispatch.analytics.schemas import Bucket, TrendMetric
from persistence.analytics_rollups import refresh_rollups
from persistence.models import Booking, BookingAssignment, Organization
from persistence.session import SYSTEM, Caller, analytics_session, tenant_session
from persistence.statuses import BookingStatus
from tests.factories import (
    auth_headers,
    make_assignment,
    make_booking,
    make_driver,
    make_org,
    make_truck,
    make_user,
)

BERLIN = ZoneInfo("Europe/Berlin")
ROLLUP_TABLES = (
    "analytics_rollup_days",
    "analytics_booking_days",
    "analytics_driver_days",
    "analytics_truck_days",
)
ROLLED_METRICS = (
    TrendMetric.BOOKINGS,
    TrendMetric.COMPLETED,
    TrendMetric.CANCELLED,
    TrendMetric.NO_SHOWS,
    TrendMetric.REVENUE_CENTS,
)


def _at(today: date, days_ago: int, hour: int) -> datetime:
    return datetime.combine(today - timedelta(days=days_ago), time(hour), BERLIN)


async def _assign(booking: Booking, driver: Any, truck: Any, arrived: datetime | None = None) -> None:
    await make_assignment(booking, driver, truck, arrived=arrived)


def _by_id(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda row: str(row[key]))  # ties leave SQL's order free


async def _views(session: AsyncSession, caller: Caller, org: Organization | None) -> dict[str, Any]:
    """Every figure the rollups feed, over the default range (the last 30 days)."""
    window = await service.resolve_window(session, caller, org.id if org else None, None, None)
    drivers = (await service.driver_metrics(session, window, limit=100_000)).model_dump()
    drivers["top_performers"] = _by_id(drivers["top_performers"], "driver_id")
    trucks = (await service.truck_metrics(session, window, limit=100_000)).model_dump()
    trucks["trucks"] = _by_id(trucks["trucks"], "truck_id")
    dashboard = (await service.dashboard(session, window)).model_dump()
    dashboard.pop("sla_breaches")  # counted against the clock, apart from the rollups
    bookings = (await service.booking_metrics(session, window)).model_dump()
    daily = (await service.trend(session, window, TrendMetric.BOOKINGS, Bucket.DAY, None)).model_dump()
    # The dashboard reads its own statements (one for bookings and the daily trend, drivers'
    # totals): each figure as the view it summarizes counts it.
    summarized = {
        "bookings": bookings["total"],
        "completed": bookings["completed"],
        "revenue_cents": bookings["revenue_cents"],
        "cancellation_rate": bookings["cancellation_rate"],
        "no_show_rate": bookings["no_show_rate"],
        "on_time_rate": drivers["on_time_rate"],
        "fleet_utilization": trucks["fleet_utilization"],
        "trend": daily["points"],
    }
    assert {key: dashboard[key] for key in summarized} == summarized
    views: dict[str, Any] = {
        "bookings": bookings,
        "drivers": drivers,
        "trucks": trucks,
        "dashboard": dashboard,
    }
    # Platform-wide (every test's rows): two metrics by day keep the test short.
    metrics = ROLLED_METRICS if org else (TrendMetric.BOOKINGS, TrendMetric.REVENUE_CENTS)
    for metric in metrics:
        for bucket in (Bucket.DAY, Bucket.WEEK) if org else (Bucket.DAY,):
            trend = await service.trend(session, window, metric, bucket, "EUR")
            views[f"{metric}/{bucket}"] = trend.model_dump()
    return views


async def _rolled_and_live(caller: Caller, org: Organization | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The answers as served, and as computed from the rows alone (rollups hidden)."""
    async with analytics_session(caller) as session:
        rolled = await _views(session, caller, org)
    async with tenant_session(SYSTEM) as system:
        # Without the rollups every day is read live; undone after.
        for table in ROLLUP_TABLES:
            await system.execute(text(f"DELETE FROM {table}"))
        await system.execute(
            text("SELECT set_config('app.role', :role, true), set_config('app.org_id', :org, true)"),
            {"role": caller.role, "org": str(caller.org_id or "")},
        )
        live = await _views(system, caller, org)
        await system.rollback()
    return rolled, live


async def _rolled_days(org: Organization) -> int:
    async with tenant_session(SYSTEM) as session:
        count = await session.scalar(
            text(
                "SELECT count(*) FROM analytics_rollup_days c WHERE c.org_id = :org AND NOT EXISTS"
                " (SELECT 1 FROM analytics_dirty x WHERE x.org_id = c.org_id AND x.zone = c.zone"
                "  AND x.day = c.day)"
            ),
            {"org": org.id},
        )
    return int(count or 0)


async def _nudge_rollup(org: Organization, by: int) -> None:
    async with tenant_session(SYSTEM) as session:
        await session.execute(
            text(
                "UPDATE analytics_booking_days SET bookings = bookings + :by WHERE ctid ="
                " (SELECT ctid FROM analytics_booking_days WHERE org_id = :org AND zone = :tz"
                "  ORDER BY day, status LIMIT 1)"
            ),
            {"by": by, "org": org.id, "tz": org.timezone},
        )


async def test_rollups_answer_as_the_live_rows_through_changes(http: httpx.AsyncClient) -> None:
    org = await make_org(timezone="Europe/Berlin")
    staff = Caller(role="mover_admin", user_id=(await make_user("mover_admin", org)).id, org_id=org.id)
    admin = Caller(role="platform_admin", user_id=(await make_user("platform_admin")).id)
    customer = await make_user("customer")
    ada, bob = await make_driver(org, full_name="Ada"), await make_driver(org, full_name="Bob")
    van, lorry = await make_truck(org, plate="ROLL-1"), await make_truck(org, plate="ROLL-2")
    today = datetime.now(BERLIN).date()
    done = await make_booking(org, customer, start=_at(today, 3, 9), status="completed", price_cents=40000)
    late = await make_booking(
        org, customer, start=_at(today, 2, 9), status="completed", price_cents=20000, hours=2
    )
    await make_booking(org, customer, start=_at(today, 2, 14), status="cancelled")
    refunded = await make_booking(org, customer, start=_at(today, 1, 9), status="completed", price_cents=9000)
    await make_booking(org, customer, start=_at(today, 1, 14), status="no_show")
    # 23:30 in Berlin: another day in UTC than in the organization's zone
    await make_booking(org, customer, start=_at(today, 4, 23) + timedelta(minutes=30), status="completed")
    current = await make_booking(org, customer, start=_at(today, 0, 0) + timedelta(minutes=30))
    await _assign(done, ada, van, arrived=done.window_start + timedelta(minutes=10))
    await _assign(late, bob, van, arrived=late.window_start + timedelta(minutes=40))
    await _assign(refunded, ada, lorry, arrived=refunded.window_start)

    report = await refresh_rollups()
    assert report.days > 0
    rolled_days = await _rolled_days(org)
    assert rolled_days >= 2 * 7  # the last week's closed days, in Berlin and in UTC
    for caller, scope in ((staff, org), (admin, org), (admin, None)):
        rolled, live = await _rolled_and_live(caller, scope)
        assert rolled == live, (caller.role, scope)
    # The answers do come from the rollups: a nudged rollup shows (and is put back).
    await _nudge_rollup(org, 100)
    rolled, live = await _rolled_and_live(staff, org)
    assert rolled["bookings"]["total"] == live["bookings"]["total"] + 100
    await _nudge_rollup(org, -100)

    # Changes to closed days and to today: counted at once, before any refresh.
    async with tenant_session(SYSTEM) as session:
        await session.execute(  # a completed job cancelled and refunded after the fact
            update(Booking).where(Booking.id == refunded.id).values(status=BookingStatus.CANCELLED)
        )
        await session.execute(  # a partial refund that lowered the price of another
            update(Booking).where(Booking.id == done.id).values(price_cents=31000)
        )
        await session.execute(  # the late job was Ada's after all
            update(BookingAssignment).where(BookingAssignment.booking_id == late.id).values(driver_id=ada.id)
        )
        await session.execute(
            update(Booking).where(Booking.id == current.id).values(status=BookingStatus.COMPLETED)
        )
    await make_booking(org, customer, start=_at(today, 0, 8), status="cancelled")
    await make_booking(org, customer, start=_at(today, 5, 10), status="completed", price_cents=123)
    for caller, scope in ((staff, org), (admin, org), (admin, None)):
        rolled, live = await _rolled_and_live(caller, scope)
        assert rolled == live, (caller.role, scope)
    assert rolled["bookings"]["by_status"] == live["bookings"]["by_status"]

    await refresh_rollups()
    assert await _rolled_days(org) >= rolled_days
    for caller, scope in ((staff, org), (admin, org), (admin, None)):
        rolled, live = await _rolled_and_live(caller, scope)
        assert rolled == live, (caller.role, scope)
    mine = (await _rolled_and_live(staff, org))[0]
    assert (mine["bookings"]["completed"], mine["bookings"]["cancelled"]) == (5, 3)
    assert mine["bookings"]["revenue_cents"] == {"EUR": 31000 + 20000 + 30000 + 30000 + 123}
    [ada_row] = mine["drivers"]["top_performers"]  # Bob's only job went to Ada
    assert (ada_row["driver_id"], ada_row["jobs"], ada_row["on_time_jobs"]) == (ada.id, 3, 2)

    # Tenancy: another organization's staff neither read these rollups nor this organization.
    other = await make_org(timezone="Europe/Berlin")
    outsider = await make_user("mover_admin", other)
    outside = Caller(role="mover_admin", user_id=outsider.id, org_id=other.id)
    async with analytics_session(outside) as session:
        seen = await session.scalar(
            text("SELECT count(*) FROM analytics_booking_days WHERE org_id = :org"), {"org": org.id}
        )
        seen_days = await session.scalar(
            text("SELECT count(*) FROM analytics_rollup_days WHERE org_id = :org"), {"org": org.id}
        )
    assert (seen, seen_days) == (0, 0)
    async with analytics_session(staff) as session:
        assert await session.scalar(
            text("SELECT count(*) FROM analytics_booking_days WHERE org_id = :org"), {"org": org.id}
        )
    for view in ("dashboard", "bookings", "drivers", "trucks", "trends"):
        params = {"org_id": str(org.id), "metric": "bookings"}
        answer = await http.get(f"/api/v1/analytics/{view}", params=params, headers=auth_headers(outsider))
        assert answer.status_code == 404, view
    own = await http.get("/api/v1/analytics/bookings", headers=auth_headers(outsider))
    assert own.status_code == 200 and own.json()["total"] == 0
