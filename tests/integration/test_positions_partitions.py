"""The breadcrumb trail partitioned by day: the maintenance job, partition pruning of the trail
query, and partitions closed to the app role (tenancy goes through the parent's policies)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from persistence.config import get_settings
from persistence.models import Driver
from persistence.positions_partitions import (
    maintain_position_partitions,
    partition_days,
    partition_name,
)
from persistence.repositories.positions import DAY_BREADCRUMBS
from persistence.session import SYSTEM, Caller, tenant_session
from tests.factories import make_driver, make_org

# A clock far in the past: the job's drops and purges reach only what these tests made.
NOW = dt.datetime(1999, 6, 15, 9, 30, tzinfo=dt.UTC)
FUTURE = dt.date(2998, 1, 1)  # a year no other test writes in
_INSERT = text("""
INSERT INTO driver_breadcrumbs (driver_id, org_id, recorded_at, location)
VALUES (:driver, :org, :at, ST_SetSRID(ST_MakePoint(13.4, 52.5), 4326)::geography)
""")
_WHERE = text(
    "SELECT recorded_at, tableoid::regclass::text AS part FROM driver_breadcrumbs "
    "WHERE driver_id = :driver ORDER BY recorded_at"
)


def at(day: int, month: int = 6) -> dt.datetime:
    return dt.datetime(1999, month, day, 10, tzinfo=dt.UTC)


async def _sql(statement: str, **params: Any) -> list[Any]:
    async with tenant_session(SYSTEM) as session:
        result = await session.execute(text(statement), params)
        return list(result.all()) if result.returns_rows else []


@pytest.fixture
async def driver(database: str) -> AsyncIterator[Driver]:
    driver = await make_driver(await make_org())
    yield driver
    await _drop_year(NOW.year)  # leave no partition of the test's year behind
    await _sql("DELETE FROM driver_breadcrumbs WHERE driver_id = :d", d=driver.id)


async def _drop_year(year: int) -> None:
    async with tenant_session(SYSTEM) as session:
        days = [day for day in await partition_days(session) if day.year == year]
    for day in days:
        await _sql("SELECT breadcrumb_partition_drop(:day)", day=day)


async def _where(driver: Driver) -> dict[dt.datetime, str]:
    return {row.recorded_at: row.part for row in await _sql(_WHERE.text, driver=driver.id)}


async def test_job_creates_ahead_moves_default_rows_and_drops_expired(driver: Driver) -> None:
    settings = get_settings().model_copy(
        update={"positions_retention_days": 30, "positions_partitions_ahead_days": 7}
    )
    await _sql("SELECT breadcrumb_partition_create(:day)", day=dt.date(1999, 5, 2))
    rows = {
        "expired_partition": at(2, 5),
        "expired_default": at(1, 5),
        "kept_default": at(1),
        "ahead": at(20),
    }
    async with tenant_session(SYSTEM) as session:
        for moment in rows.values():
            await session.execute(_INSERT, {"driver": driver.id, "org": driver.org_id, "at": moment})
    before = await _where(driver)
    assert before[at(2, 5)] == "driver_breadcrumbs_19990502"
    assert {before[at(1, 5)], before[at(1)], before[at(20)]} == {"driver_breadcrumbs_default"}

    report = await maintain_position_partitions(NOW, settings)

    assert report.created == [dt.date(1999, 6, 15) + dt.timedelta(days=n) for n in range(8)]
    assert report.dropped == [dt.date(1999, 5, 2)]
    assert report.purged >= 1
    # The ahead row moved out of the default into its day; the kept one stays in the default.
    assert await _where(driver) == {
        at(1): "driver_breadcrumbs_default",
        at(20): "driver_breadcrumbs_19990620",
    }
    again = await maintain_position_partitions(NOW, settings)
    assert (again.created, again.dropped) == ([], [])


async def test_a_clock_ahead_of_the_database_creates_but_never_drops(database: str) -> None:
    today = dt.datetime.now(dt.UTC).date()
    await _sql("SELECT breadcrumb_partition_create(:day)", day=today)
    future = dt.datetime(FUTURE.year, 1, 1, tzinfo=dt.UTC)
    try:
        report = await maintain_position_partitions(future)
        assert report.created[0] == future.date()
        assert (report.retention_skipped, report.dropped, report.purged) == (True, [], 0)
        async with tenant_session(SYSTEM) as session:
            assert today in await partition_days(session)
    finally:
        await _drop_year(FUTURE.year)


async def test_waiting_rows_move_whoever_the_caller_is(driver: Driver) -> None:
    """The function runs as its owner; the caller's RLS context (here one that sees no
    driver) must not change whether the rows' foreign keys check out."""
    async with tenant_session(SYSTEM) as session:
        await session.execute(_INSERT, {"driver": driver.id, "org": driver.org_id, "at": at(7, 7)})
    async with tenant_session(Caller(role="customer", user_id=uuid.uuid4())) as session:
        created = await session.execute(
            text("SELECT breadcrumb_partition_create(:day)"), {"day": dt.date(1999, 7, 7)}
        )
        assert created.scalar() is True
    assert await _where(driver) == {at(7, 7): "driver_breadcrumbs_19990707"}


async def test_trail_for_one_day_touches_one_partition(driver: Driver) -> None:
    day = dt.date(1999, 6, 3)
    await _sql("SELECT breadcrumb_partition_create(:day)", day=day)
    await _sql("SELECT breadcrumb_partition_create(:day)", day=day + dt.timedelta(days=1))
    start = dt.datetime.combine(day, dt.time(), dt.UTC)
    async with tenant_session(SYSTEM) as session:
        plan = (
            await session.execute(
                text(f"EXPLAIN (FORMAT JSON) {DAY_BREADCRUMBS.text}"),
                {"driver": driver.id, "start": start, "end": start + dt.timedelta(days=1)},
            )
        ).scalar_one()
    scanned = set(_relations(plan if isinstance(plan, list) else json.loads(plan)))
    assert scanned == {partition_name(day)}


def _relations(node: Any) -> list[str]:
    """Every 'Relation Name' in an EXPLAIN (FORMAT JSON) tree."""
    if isinstance(node, list):
        return [name for item in node for name in _relations(item)]
    if isinstance(node, dict):
        own = [node["Relation Name"]] if "Relation Name" in node else []
        return own + [name for value in node.values() for name in _relations(value)]
    return []


@pytest.mark.parametrize("partition", ["driver_breadcrumbs_default", "today"])
async def test_app_role_cannot_read_or_drop_a_partition(database: str, partition: str) -> None:
    if partition == "today":
        partition = partition_name(dt.datetime.now(dt.UTC).date())
        await _sql("SELECT breadcrumb_partition_create(:day)", day=dt.datetime.now(dt.UTC).date())
    for statement in (
        f"SELECT count(*) FROM {partition}",
        f"INSERT INTO {partition} (driver_id, org_id, recorded_at, location) "
        f"VALUES ('{uuid.uuid4()}', '{uuid.uuid4()}', now(), 'POINT(0 0)')",
        f"DROP TABLE {partition}",
    ):
        with pytest.raises(DBAPIError) as refused:
            await _sql(statement)
        assert "permission denied" in str(refused.value) or "must be owner" in str(refused.value)
