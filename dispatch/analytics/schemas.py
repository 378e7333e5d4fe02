"""Analytics dashboard payloads: bookings, fleet, trends (organization or platform wide)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field


class BookingMetrics(BaseModel):
    total: int
    by_status: dict[str, int]
    completed: int
    cancelled: int
    completion_rate: float = Field(description="completed / bookings that reached an end")
    cancellation_rate: float
    revenue_cents: int = Field(description="price of completed bookings, in cents")
    average_price_cents: int
    currency_totals: dict[str, int] = Field(description="completed revenue per currency")


class DriverPerformance(BaseModel):
    driver_id: uuid.UUID
    full_name: str
    completed_jobs: int
    rating_avg: float


class DriverMetrics(BaseModel):
    active_drivers: int
    verified_drivers: int
    top_performers: list[DriverPerformance]


class TrendPoint(BaseModel):
    day: date
    bookings: int
    completed: int
    revenue_cents: int


class Dashboard(BaseModel):
    start: datetime
    end: datetime
    scope: str = Field(examples=["organization", "platform"])
    bookings: BookingMetrics
    drivers: DriverMetrics
    fleet_utilization: float
    trend: list[TrendPoint]
