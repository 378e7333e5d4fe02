"""Analytics payloads: the nine views (dashboard, bookings, drivers, trucks, ratings, support,
invoices, verification, trends), for one organization or the whole platform.

Every view answers for a scope (`organization` with its id, or `platform`) and a range of
whole days `from`..`to` (both inclusive) in the scope's time zone (the organization's; UTC
platform-wide). Bookings count in a range by their window start; money is in minor units
(`*_cents`) and keyed by ISO currency wherever organizations may bill in several.

CSV (`Accept: text/csv`): the views that are a table give one row per item (drivers, trucks,
trend points); the others give `metric,key,value` rows (see dispatch/analytics/csv.py).
"""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field


class Bucket(StrEnum):
    """How a trend groups its points, in the scope's time zone (weeks start on Monday)."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class TrendMetric(StrEnum):
    """What a trend counts per bucket (money metrics in the `currency` asked for)."""

    BOOKINGS = "bookings"  # bookings by window start, any status
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOWS = "no_shows"
    REVENUE_CENTS = "revenue_cents"  # price of completed bookings
    RATINGS = "ratings"  # ratings given (not hidden)
    RATING_AVG = "rating_avg"  # average overall stars of those
    TICKETS_OPENED = "tickets_opened"
    INVOICES_ISSUED = "invoices_issued"  # by issue date
    INVOICED_CENTS = "invoiced_cents"  # total of invoices issued
    COLLECTED_CENTS = "collected_cents"  # invoice payments received
    VERIFICATIONS_SUBMITTED = "verifications_submitted"


MONEY_METRICS: frozenset[TrendMetric] = frozenset(
    {TrendMetric.REVENUE_CENTS, TrendMetric.INVOICED_CENTS, TrendMetric.COLLECTED_CENTS}
)


class Scope(BaseModel):
    """Whose figures these are and over which days."""

    scope: Literal["organization", "platform"]
    org_id: uuid.UUID | None = Field(description="the organization, or null platform-wide")
    timezone: str = Field(examples=["Europe/Berlin"], description="days and buckets are in it")
    date_from: date = Field(alias="from", description="first day of the range (inclusive)")
    date_to: date = Field(alias="to", description="last day of the range (inclusive)")

    model_config = {"populate_by_name": True, "serialize_by_alias": True}


class BookingMetrics(Scope):
    total: int
    by_status: dict[str, int] = Field(description="every booking status, zeros included")
    completed: int
    cancelled: int
    no_shows: int
    completion_rate: float = Field(
        description="completed / bookings that ended (completed, cancelled, no-show)"
    )
    cancellation_rate: float = Field(description="cancelled / all bookings in the range")
    no_show_rate: float = Field(description="no-shows / all bookings in the range")
    revenue_cents: dict[str, int] = Field(description="price of completed bookings per currency")
    average_price_cents: dict[str, int] = Field(
        description="average price of a completed booking per currency"
    )


class DriverPerformance(BaseModel):
    driver_id: uuid.UUID
    full_name: str
    jobs: int = Field(description="bookings in the range the driver holds (active assignment)")
    completed_jobs: int
    on_time_jobs: int = Field(description="jobs where the crew arrived by window start + grace")
    on_time_rate: float | None = Field(description="on-time / jobs with an arrival; null if none")
    rating_avg: float


class DriverMetrics(Scope):
    active_drivers: int
    verified_drivers: int
    jobs: int
    completed_jobs: int
    on_time_rate: float | None = Field(
        description="arrivals within the grace after window start / all arrivals in the range"
    )
    on_time_grace_minutes: int
    rating_avg: float | None = Field(description="mean of active drivers' ratings (rated ones)")
    top_performers: list[DriverPerformance] = Field(
        description="most completed jobs first, then rating; at most `limit`"
    )


class TruckUtilization(BaseModel):
    truck_id: uuid.UUID
    plate: str
    jobs: int
    busy_hours: float = Field(description="hours of the truck's jobs starting in the range")
    utilization: float = Field(description="busy hours / (days in range x working day)")
    idle_days: int = Field(description="days in the range without a job starting")


class TruckMetrics(Scope):
    active_trucks: int
    working_day_hours: float
    fleet_utilization: float = Field(description="mean utilization of the active trucks")
    idle_truck_days: int = Field(description="sum of idle days over the active trucks")
    trucks: list[TruckUtilization] = Field(description="least used first (idle trucks lead); at most `limit`")


class TrendPoint(BaseModel):
    bucket_start: date = Field(description="first day of the bucket, in the scope's time zone")
    value: float


class RatingMetrics(Scope):
    count: int = Field(description="ratings given in the range, hidden ones left out")
    hidden: int
    average_overall: float | None
    average_driver: float | None = Field(description="mean driver stars where given")
    distribution: dict[str, int] = Field(description="overall stars '1'..'5' -> ratings")
    trend: list[TrendPoint] = Field(description="average overall stars per `bucket`")


class SupportMetrics(Scope):
    open_total: int = Field(description="open or in progress now (not range bound)")
    open_by_priority: dict[str, int] = Field(description="low, normal, high, urgent")
    opened: int = Field(description="tickets opened in the range")
    resolved: int = Field(description="of those, resolved or closed")
    median_first_response_s: float | None
    average_first_response_s: float | None
    median_resolution_s: float | None
    average_resolution_s: float | None
    sla_breaches: int = Field(
        description="opened in the range and resolved after their SLA due time, or still unresolved past it"
    )


class InvoiceMetrics(Scope):
    issued: int = Field(description="invoices with an issue date in the range (not drafts)")
    issued_cents: dict[str, int] = Field(description="their totals per currency")
    by_status: dict[str, int] = Field(description="those invoices by their status now")
    paid: int = Field(description="invoices paid in full during the range")
    overdue_now: int = Field(description="unpaid past their due date today (any range)")
    outstanding_cents: dict[str, int] = Field(
        description="unpaid balance of issued and overdue invoices now, per currency"
    )
    average_days_to_pay: float | None = Field(description="issue date to paid, of those paid in the range")
    collected_cents: dict[str, int] = Field(description="payments received in the range")


class VerificationMetrics(Scope):
    pending: int = Field(description="waiting for a decision now (pending or under review)")
    approved: int = Field(description="approved during the range")
    rejected: int = Field(description="rejected during the range")
    submitted: int = Field(description="submitted during the range")
    expiring_in_30_days: int = Field(description="approved documents expiring within 30 days from today")
    expiring_by_kind: dict[str, int]


class Dashboard(Scope):
    """One screen of headline figures; each view has the details."""

    bookings: int
    completed: int
    revenue_cents: dict[str, int]
    cancellation_rate: float
    no_show_rate: float
    active_drivers: int
    on_time_rate: float | None
    fleet_utilization: float
    rating_avg: float | None
    open_tickets: int
    sla_breaches: int
    overdue_invoices: int
    collected_cents: dict[str, int]
    pending_verifications: int
    expiring_in_30_days: int
    trend: list[TrendPoint] = Field(description="bookings per day in the range")


class Trend(Scope):
    metric: TrendMetric
    bucket: Bucket
    currency: str | None = Field(description="the currency money metrics count in")
    points: list[TrendPoint] = Field(description="every bucket of the range, zeros included")
