"""The tracking view as the customer's page reads it."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel

Stop = Literal["pickup", "dropoff"]


class CrewPosition(BaseModel):
    lat: float
    lon: float
    heading: float | None
    speed: float | None  # m/s
    ts: float  # epoch seconds of the ping


class Eta(BaseModel):
    stop: Stop
    eta_s: float
    minutes: int  # what to show: "about N minutes"
    distance_m: float  # remaining road distance (estimated)


class Crew(BaseModel):
    driver_name: str | None
    truck_plate: str | None


class Tracking(BaseModel):
    booking_id: uuid.UUID
    status: str
    heading_for: Stop | None  # the next stop; None while the crew works at one
    crew: Crew
    position: CrewPosition | None  # None until the crew's first ping
    eta: Eta | None
    source: Literal["live", "stored", "none"]  # the fleet's live state or the newest stored ping
    stops: dict[Stop, dict[str, float]]  # {"pickup": {"lat","lon"}, "dropoff": {...}}
