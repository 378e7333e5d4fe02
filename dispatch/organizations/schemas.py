"""Organization I/O: onboarding, profile and pricing, service area and staff invites."""

from __future__ import annotations

import uuid
import zoneinfo
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, model_validator

from dispatch.fleet.schemas import Skills, only_driving
from dispatch.kit.geo import GeoJsonArea, GeoPoint


def _known_timezone(value: str) -> str:
    if value not in zoneinfo.available_timezones():
        raise ValueError("unknown IANA time zone")
    return value


Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["EUR"], description="ISO 4217 code")]
Cents = Annotated[int, Field(ge=0, le=1_000_000_000, description="integer cents")]
Phone = Annotated[str, Field(pattern=r"^\+?[0-9 ()-]{6,31}$", examples=["+4930123456"])]
TimeZone = Annotated[str, Field(max_length=64, examples=["Europe/Berlin"]), AfterValidator(_known_timezone)]


class OrganizationSort(StrEnum):
    name = "name"
    name_desc = "-name"
    created_at = "created_at"
    created_at_desc = "-created_at"
    rating = "rating_avg"
    rating_desc = "-rating_avg"


class OrganizationCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Spree Movers",
                    "code": "SPREE",
                    "hourly_rate_cents": 4500,
                    "per_km_cents": 150,
                    "minimum_charge_cents": 15000,
                    "currency": "EUR",
                    "timezone": "Europe/Berlin",
                    "base_location": {"lon": 13.405, "lat": 52.52},
                    "service_area": GeoJsonArea.model_json_schema()["examples"][0],
                    "contact_email": "office@spree-movers.example",
                }
            ]
        },
    )

    name: str = Field(min_length=2, max_length=200)
    code: str = Field(pattern=r"^[A-Z0-9]{2,12}$", description="short unique code, e.g. SPREE")
    service_area: GeoJsonArea
    base_location: GeoPoint
    hourly_rate_cents: Cents = Field(description="per crew member per hour")
    per_km_cents: Cents
    minimum_charge_cents: Cents
    currency: Currency
    timezone: TimeZone = "UTC"
    contact_email: EmailStr | None = None
    contact_phone: Phone | None = None
    admin_email: EmailStr | None = Field(
        None, description="platform admins only: the user who becomes this organization's admin"
    )


class OrganizationUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"hourly_rate_cents": 4900, "minimum_charge_cents": 18000}]},
    )

    name: str | None = Field(None, min_length=2, max_length=200)
    base_location: GeoPoint | None = None
    hourly_rate_cents: Cents | None = None
    per_km_cents: Cents | None = None
    minimum_charge_cents: Cents | None = None
    currency: Currency | None = None
    timezone: TimeZone | None = None
    contact_email: EmailStr | None = None
    contact_phone: Phone | None = None


class OrganizationOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "7d4c9a5e-8f1e-4f7b-9a43-0c2d3f7f0a11",
                    "name": "Spree Movers",
                    "code": "SPREE",
                    "base_location": {"lon": 13.405, "lat": 52.52},
                    "hourly_rate_cents": 4500,
                    "per_km_cents": 150,
                    "minimum_charge_cents": 15000,
                    "currency": "EUR",
                    "timezone": "Europe/Berlin",
                    "verified": True,
                    "active": True,
                    "rating_avg": 4.7,
                    "rating_count": 12,
                    "contact_email": None,
                    "contact_phone": None,
                    "created_at": "2026-11-24T09:00:00Z",
                }
            ]
        }
    )

    id: uuid.UUID
    name: str
    code: str
    base_location: GeoPoint
    hourly_rate_cents: int
    per_km_cents: int
    minimum_charge_cents: int
    currency: str
    timezone: str
    verified: bool
    active: bool
    rating_avg: float
    rating_count: int
    contact_email: str | None
    contact_phone: str | None
    created_at: datetime


class OnboardingResult(BaseModel):
    organization: OrganizationOut
    admin_user_id: uuid.UUID
    access_token: str | None = Field(
        None,
        description="a fresh access token carrying the new mover_admin role, when the "
        "caller onboarded themself (their old token still says customer)",
    )


class StaffInvite(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "role": "driver",
                    "email": "jonas@spree-movers.example",
                    "full_name": "Jonas Weber",
                    "skills": ["driver", "foreman"],
                },
                {"role": "dispatcher", "phone": "+4930123457", "full_name": "Mia Koch"},
            ]
        },
    )

    role: Literal["dispatcher", "driver"]
    email: EmailStr | None = None
    phone: Phone | None = None
    full_name: str = Field(min_length=1, max_length=200)
    skills: Skills = Field(default_factory=only_driving, description="drivers only")
    home_base: GeoPoint | None = Field(None, description="drivers only; default: org base")

    @model_validator(mode="after")
    def _reachable(self) -> StaffInvite:
        if self.email is None and self.phone is None:
            raise ValueError("give an email or a phone to sign in with")
        return self


class StaffMember(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": "a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d",
                    "role": "driver",
                    "email": "jonas@spree-movers.example",
                    "phone": None,
                    "full_name": "Jonas Weber",
                    "driver_id": "4b1f0f7e-2d7a-4c55-9a57-8d7bb1c0e0a2",
                }
            ]
        }
    )

    user_id: uuid.UUID
    role: str
    email: str | None
    phone: str | None
    full_name: str
    driver_id: uuid.UUID | None = None
