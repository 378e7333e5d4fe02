"""Booking I/O: quote requests, new bookings, edits, lists and availability answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from dispatch.kit.geo import GeoPoint
from persistence.statuses import BookingStatus

Volume = Annotated[
    float, Field(gt=0, le=200, allow_inf_nan=False, examples=[18.5], description="cubic metres of goods")
]
CrewSize = Annotated[int, Field(ge=1, le=12, examples=[2])]
Skill = Literal["driver", "foreman", "packer"]


def _distinct(skills: list[Skill]) -> list[Skill]:
    return list(dict.fromkeys(skills))


class Stop(BaseModel):
    """Where the crew loads or unloads."""

    address: str = Field(min_length=1, max_length=500, examples=["Alexanderplatz 1, Berlin"])
    location: GeoPoint


class BookingSort(StrEnum):
    window_start = "window_start"
    window_start_desc = "-window_start"
    created_at = "created_at"
    created_at_desc = "-created_at"
    price = "price_cents"
    price_desc = "-price_cents"


class AvailabilitySort(StrEnum):
    distance = "distance_km"
    rating_desc = "-rating_avg"
    hourly_rate = "hourly_rate_cents"


class QuoteRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "org_id": "7d4c9a5e-8f1e-4f7b-9a43-0c2d3f7f0a11",
                    "pickup": {"lon": 13.41, "lat": 52.52},
                    "dropoff": {"lon": 13.375, "lat": 52.51},
                    "volume_m3": 18.5,
                    "crew_size": 2,
                }
            ]
        },
    )

    org_id: uuid.UUID
    pickup: GeoPoint
    dropoff: GeoPoint
    volume_m3: Volume
    crew_size: CrewSize


class QuoteOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "org_id": "7d4c9a5e-8f1e-4f7b-9a43-0c2d3f7f0a11",
                    "distance_km": 2.63,
                    "billable_hours": 4.75,
                    "labour_cents": 42750,
                    "distance_cents": 395,
                    "total_cents": 43145,
                    "currency": "EUR",
                    "pickup_in_service_area": True,
                }
            ]
        }
    )

    org_id: uuid.UUID
    distance_km: float
    billable_hours: float
    labour_cents: int
    distance_cents: int
    total_cents: int
    currency: str
    pickup_in_service_area: bool


class BookingCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "org_id": "7d4c9a5e-8f1e-4f7b-9a43-0c2d3f7f0a11",
                    "pickup": {
                        "address": "Alexanderplatz 1, Berlin",
                        "location": {"lon": 13.41, "lat": 52.52},
                    },
                    "dropoff": {
                        "address": "Potsdamer Platz 1, Berlin",
                        "location": {"lon": 13.375, "lat": 52.51},
                    },
                    "window_start": "2026-12-01T08:00:00Z",
                    "window_end": "2026-12-01T14:00:00Z",
                    "volume_m3": 18.5,
                    "crew_size": 2,
                    "required_skills": ["packer"],
                    "notes": "third floor, no lift",
                }
            ]
        },
    )

    org_id: uuid.UUID
    pickup: Stop
    dropoff: Stop
    window_start: AwareDatetime
    window_end: AwareDatetime
    volume_m3: Volume
    crew_size: CrewSize
    required_skills: Annotated[list[Skill], Field(max_length=3), AfterValidator(_distinct)] = []
    notes: str = Field("", max_length=2000)


class BookingUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"notes": "ring twice"},
                {"window_start": "2026-12-02T08:00:00Z", "window_end": "2026-12-02T13:00:00Z"},
            ]
        },
    )

    notes: str | None = Field(None, max_length=2000)
    pickup: Stop | None = None
    dropoff: Stop | None = None
    window_start: AwareDatetime | None = None
    window_end: AwareDatetime | None = None


class BookingOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "c1f3a2b4-5d6e-4f70-8a9b-0c1d2e3f4a5b",
                    "org_id": "7d4c9a5e-8f1e-4f7b-9a43-0c2d3f7f0a11",
                    "customer_id": "a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d",
                    "pickup": {
                        "address": "Alexanderplatz 1, Berlin",
                        "location": {"lon": 13.41, "lat": 52.52},
                    },
                    "dropoff": {
                        "address": "Potsdamer Platz 1, Berlin",
                        "location": {"lon": 13.375, "lat": 52.51},
                    },
                    "window_start": "2026-12-01T08:00:00Z",
                    "window_end": "2026-12-01T14:00:00Z",
                    "volume_m3": 18.5,
                    "crew_size": 2,
                    "required_skills": ["packer"],
                    "distance_km": 2.63,
                    "price_cents": 43145,
                    "currency": "EUR",
                    "status": "pending",
                    "notes": "third floor, no lift",
                    "version": 1,
                    "created_at": "2026-11-24T09:00:00Z",
                    "updated_at": "2026-11-24T09:00:00Z",
                }
            ]
        }
    )

    id: uuid.UUID
    org_id: uuid.UUID
    customer_id: uuid.UUID
    pickup: Stop
    dropoff: Stop
    window_start: datetime
    window_end: datetime
    volume_m3: float
    crew_size: int
    required_skills: list[str]
    distance_km: float
    price_cents: int
    currency: str
    status: BookingStatus
    notes: str
    version: int
    created_at: datetime
    updated_at: datetime


class AvailableOrganization(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "org_id": "7d4c9a5e-8f1e-4f7b-9a43-0c2d3f7f0a11",
                    "name": "Spree Movers",
                    "code": "SPREE",
                    "rating_avg": 4.7,
                    "distance_km": 3.1,
                    "hourly_rate_cents": 4500,
                    "per_km_cents": 150,
                    "minimum_charge_cents": 15000,
                    "currency": "EUR",
                }
            ]
        }
    )

    org_id: uuid.UUID
    name: str
    code: str
    rating_avg: float
    distance_km: float = Field(description="from the organization's base to the pickup")
    hourly_rate_cents: int
    per_km_cents: int
    minimum_charge_cents: int
    currency: str
