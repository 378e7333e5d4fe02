"""Calendar views: what the fleet, a driver or a truck is doing over a date range."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from persistence.statuses import BookingStatus


class CalendarEntry(BaseModel):
    booking_id: uuid.UUID
    status: BookingStatus
    start: datetime
    end: datetime
    pickup_address: str
    dropoff_address: str
    driver_id: uuid.UUID | None = None
    truck_id: uuid.UUID | None = None


class FreeGap(BaseModel):
    start: datetime
    end: datetime


class ResourceSchedule(BaseModel):
    resource_id: uuid.UUID
    resource_type: str = Field(examples=["driver"])
    entries: list[CalendarEntry]
    free: list[FreeGap]
    utilization: float = Field(ge=0, le=1, examples=[0.42])


class FleetCalendar(BaseModel):
    start: datetime
    end: datetime
    entries: list[CalendarEntry]
    unassigned: int = Field(description="bookings in the range with no driver yet")


class UtilizationRow(BaseModel):
    resource_id: uuid.UUID
    resource_type: str
    label: str
    busy_hours: float
    utilization: float


class UtilizationReport(BaseModel):
    start: datetime
    end: datetime
    drivers: list[UtilizationRow]
    trucks: list[UtilizationRow]
    fleet_utilization: float


class AvailabilityAnswer(BaseModel):
    available: bool
    conflicting_booking_ids: list[uuid.UUID]
