"""Fleet I/O: drivers and trucks as the API shows and accepts them."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from dispatch.kit.geo import GeoPoint

Skill = Literal["driver", "foreman", "packer"]
DriverStatus = Literal["active", "inactive", "suspended"]
TruckStatus = Literal["active", "maintenance", "retired"]


def _distinct(skills: list[Skill]) -> list[Skill]:
    return list(dict.fromkeys(skills))


def only_driving() -> list[Skill]:
    """The default skill set: drives the truck, nothing more."""
    return ["driver"]


Skills = Annotated[
    list[Skill],
    Field(min_length=1, max_length=3, examples=[["driver", "foreman"]]),
    AfterValidator(_distinct),
]
Phone = Annotated[str, Field(pattern=r"^\+?[0-9 ()-]{6,31}$", examples=["+4930123456"])]
Plate = Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9 -]{0,18}[A-Z0-9]$", examples=["B-MH 1234"])]
Capacity = Annotated[float, Field(gt=0, le=200, allow_inf_nan=False, description="cubic metres")]


class DriverSort(StrEnum):
    full_name = "full_name"
    full_name_desc = "-full_name"
    created_at = "created_at"
    created_at_desc = "-created_at"
    rating = "rating_avg"
    rating_desc = "-rating_avg"
    status = "status"


class TruckSort(StrEnum):
    plate = "plate"
    plate_desc = "-plate"
    capacity = "capacity_m3"
    capacity_desc = "-capacity_m3"
    created_at = "created_at"
    created_at_desc = "-created_at"


class DriverCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "full_name": "Jonas Weber",
                    "phone": "+4930123456",
                    "skills": ["driver", "foreman"],
                    "home_base": {"lon": 13.43, "lat": 52.51},
                }
            ]
        },
    )

    full_name: str = Field(min_length=1, max_length=200)
    phone: Phone | None = None
    skills: Skills = Field(default_factory=only_driving)
    home_base: GeoPoint
    status: DriverStatus = "active"
    user_id: uuid.UUID | None = Field(None, description="a driver user of the same organization")
    org_id: uuid.UUID | None = Field(None, description="platform admins only")


class DriverUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"status": "suspended"}, {"skills": ["driver", "packer"]}]},
    )

    full_name: str | None = Field(None, min_length=1, max_length=200)
    phone: Phone | None = None
    skills: Skills | None = None
    home_base: GeoPoint | None = None
    status: DriverStatus | None = None
    user_id: uuid.UUID | None = None


class DriverOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "4b1f0f7e-2d7a-4c55-9a57-8d7bb1c0e0a2",
                    "org_id": "7d4c9a5e-8f1e-4f7b-9a43-0c2d3f7f0a11",
                    "user_id": None,
                    "full_name": "Jonas Weber",
                    "phone": "+4930123456",
                    "status": "active",
                    "skills": ["driver", "foreman"],
                    "home_base": {"lon": 13.43, "lat": 52.51},
                    "verified": False,
                    "rating_avg": 0.0,
                    "created_at": "2026-11-24T09:00:00Z",
                }
            ]
        }
    )

    id: uuid.UUID
    org_id: uuid.UUID
    user_id: uuid.UUID | None
    full_name: str
    phone: str | None
    status: str
    skills: list[str]
    home_base: GeoPoint
    verified: bool
    rating_avg: float
    created_at: datetime


class TruckCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"plate": "B-MH 1234", "capacity_m3": 35, "home_base": {"lon": 13.43, "lat": 52.51}}]
        },
    )

    plate: Plate
    capacity_m3: Capacity
    status: TruckStatus = "active"
    home_base: GeoPoint | None = None
    org_id: uuid.UUID | None = Field(None, description="platform admins only")


class TruckUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"status": "maintenance"}]})

    plate: Plate | None = None
    capacity_m3: Capacity | None = None
    status: TruckStatus | None = None
    home_base: GeoPoint | None = None


class TruckOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0e6c3b1a-51f5-4b8e-a0f4-1d6f0e2b9c33",
                    "org_id": "7d4c9a5e-8f1e-4f7b-9a43-0c2d3f7f0a11",
                    "plate": "B-MH 1234",
                    "capacity_m3": 35.0,
                    "status": "active",
                    "home_base": None,
                    "created_at": "2026-11-24T09:00:00Z",
                }
            ]
        }
    )

    id: uuid.UUID
    org_id: uuid.UUID
    plate: str
    capacity_m3: float
    status: str
    home_base: GeoPoint | None
    created_at: datetime


class FleetRemoval(BaseModel):
    """What DELETE did: rows still referenced by assignments are retired, not deleted."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"id": "0e6c3b1a-51f5-4b8e-a0f4-1d6f0e2b9c33", "outcome": "retired"}]}
    )

    id: uuid.UUID
    outcome: Literal["deleted", "deactivated", "retired"]
