"""CSV renderings of the analytics views (`Accept: text/csv`), one flat shape per view.

Tables (one row per item, header first):
- drivers: `driver_id,full_name,jobs,completed_jobs,on_time_jobs,on_time_rate,rating_avg`
  (the top performers)
- trucks: `truck_id,plate,jobs,busy_hours,utilization,idle_days`
- trends: `bucket_start,value`
Every other view (dashboard, bookings, ratings, support, invoices, verification):
`metric,key,value`, one row per figure; `key` is empty for a plain figure and names the
status, currency, priority, stars or kind of a keyed one (`by_status,completed,12`,
`revenue_cents,EUR,40000`). Lists inside them (a trend) are `trend,<bucket_start>,<value>`.
The scope and range come first as `scope,,organization`, `org_id,,…`, `from,,…`, `to,,…`.
Empty cells are nulls.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel

from dispatch.analytics.schemas import DriverMetrics, Trend, TruckMetrics

DRIVER_COLUMNS = (
    "driver_id",
    "full_name",
    "jobs",
    "completed_jobs",
    "on_time_jobs",
    "on_time_rate",
    "rating_avg",
)
TRUCK_COLUMNS = ("truck_id", "plate", "jobs", "busy_hours", "utilization", "idle_days")
TREND_COLUMNS = ("bucket_start", "value")
FIGURE_COLUMNS = ("metric", "key", "value")


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _write(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([_cell(v) for v in row] for row in rows)
    return out.getvalue()


def _table(items: Iterable[BaseModel], columns: Sequence[str]) -> str:
    return _write(columns, ([item.model_dump(mode="json")[c] for c in columns] for item in items))


def _figures(view: BaseModel) -> str:
    rows: list[tuple[str, str, Any]] = []
    for metric, value in view.model_dump(mode="json", by_alias=True).items():
        if isinstance(value, dict):
            rows.extend((metric, str(k), v) for k, v in value.items())
        elif isinstance(value, list):
            rows.extend((metric, str(p["bucket_start"]), p["value"]) for p in value)
        else:
            rows.append((metric, "", value))
    return _write(FIGURE_COLUMNS, rows)


def render(view: BaseModel) -> str:
    """The view's CSV text (see the module docstring for each shape)."""
    if isinstance(view, DriverMetrics):
        return _table(view.top_performers, DRIVER_COLUMNS)
    if isinstance(view, TruckMetrics):
        return _table(view.trucks, TRUCK_COLUMNS)
    if isinstance(view, Trend):
        return _table(view.points, TREND_COLUMNS)
    return _figures(view)
