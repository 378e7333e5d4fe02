"""Which breadcrumb day partitions the maintenance job creates and drops."""

from datetime import date, timedelta

from persistence.positions_partitions import partition_name, partition_plan

TODAY = date(2027, 3, 10)


def days(first: date, count: int) -> list[date]:
    return [first + timedelta(days=n) for n in range(count)]


def test_creates_today_and_the_days_ahead_that_are_missing() -> None:
    plan = partition_plan([TODAY, TODAY + timedelta(days=2)], TODAY, ahead_days=3, retention_days=30)
    assert plan.create == [TODAY + timedelta(days=1), TODAY + timedelta(days=3)]
    assert plan.drop == []


def test_drops_only_days_before_the_retention() -> None:
    existing = days(TODAY - timedelta(days=5), 6)
    plan = partition_plan(existing, TODAY, ahead_days=0, retention_days=3)
    assert plan.create == []
    assert plan.drop == [TODAY - timedelta(days=5), TODAY - timedelta(days=4)]


def test_partition_names_sort_by_day() -> None:
    assert partition_name(date(2027, 1, 9)) == "driver_breadcrumbs_20270109"
