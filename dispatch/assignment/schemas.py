"""Assignment payloads: manual choice, auto-assignment answer with its score breakdown."""

from __future__ import annotations

import datetime as dt
import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class ManualAssignment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    driver_id: uuid.UUID
    truck_id: uuid.UUID


class AssignmentOut(BaseModel):
    id: uuid.UUID
    booking_id: uuid.UUID
    driver_id: uuid.UUID
    truck_id: uuid.UUID
    window_start: datetime
    window_end: datetime
    method: str = Field(examples=["auto"])
    score: dict[str, float] | None = Field(
        default=None,
        examples=[
            {
                "deadhead_km": 3.2,
                "distance": 3.2,
                "rating": -5.0,
                "fairness": 2.0,
                "idle": -1.5,
                "total": -1.3,
            }
        ],
    )
    candidates_tried: int = 1


class PlanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    date: dt.date = Field(description="the day (UTC) whose confirmed, unassigned bookings to plan")
    org_id: uuid.UUID | None = Field(default=None, description="platform admins: which org")


class PlannedJob(BaseModel):
    booking_id: uuid.UUID
    driver_id: uuid.UUID
    truck_id: uuid.UUID
    deadhead_km: float


class PlanOut(BaseModel):
    bookings: int
    assigned: list[PlannedJob]
    unassigned: list[uuid.UUID]
    method: str = Field(
        default="matching",
        examples=["matching", "chains"],
        description="matching: optimal one job per driver; chains: VROOM routes "
        "with several jobs per driver in time order",
    )
    deadhead_km: float = Field(description="total deadhead of the optimal plan")
    greedy_deadhead_km: float = Field(description="the same input assigned greedily")
    greedy_assigned: int = Field(default=0, description="jobs the greedy baseline assigned")


class OfferRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pickup_lat: float = Field(ge=-90, le=90, examples=[52.52])
    pickup_lon: float = Field(ge=-180, le=180, examples=[13.41])
    dropoff_lat: float = Field(ge=-90, le=90, examples=[52.51])
    dropoff_lon: float = Field(ge=-180, le=180, examples=[13.37])
    window_start: datetime
    window_end: datetime
    volume_m3: float = Field(gt=0, le=200, examples=[25])
    crew_size: int = Field(ge=1, le=12, examples=[2])
    required_skills: list[str] = Field(default_factory=lambda: ["driver"])


class Offer(BaseModel):
    org_id: uuid.UUID
    name: str
    rating: float
    price_cents: int
    currency: str
    distance_km: float
    earliest_start: datetime
    deadhead_km: float
