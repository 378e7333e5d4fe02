"""Sign-in I/O: code requests and checks, token pairs, refresh and the signed-in user."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationInfo, field_validator

from dispatch.auth.credentials import OTP_DIGITS, Channel, normalise_destination

Destination = Field(
    min_length=3,
    max_length=320,
    examples=["ada@example.com", "+4930123456"],
    description="an email address or a phone number in international form",
)


class OtpRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"channel": "sms", "destination": "+49 30 1234567"},
                {"channel": "email", "destination": "Ada@Example.com"},
            ]
        },
    )

    channel: Channel
    destination: str = Destination

    @field_validator("destination")
    @classmethod
    def _normalised(cls, value: str, info: ValidationInfo) -> str:
        channel = info.data.get("channel")
        if channel is None:  # channel already failed; do not pile a second error on it
            return value
        return normalise_destination(value, channel)


class OtpRequested(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "sent", "expires_in": 300}]})

    status: Literal["sent"] = "sent"
    expires_in: int = Field(description="seconds the code stays valid")


class OtpVerify(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"destination": "+4930 1234567", "code": "042917"}]}
    )

    destination: str = Destination
    code: str = Field(
        pattern=rf"^\d{{{OTP_DIGITS}}}$", examples=["042917"], description=f"the {OTP_DIGITS} digits we sent"
    )

    @field_validator("destination")
    @classmethod
    def _normalised(cls, value: str) -> str:
        return normalise_destination(value)


class RefreshRequest(BaseModel):
    """Apps send the refresh token here; browsers may leave the body out and rely on the cookie."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"refresh_token": "q3n0b1nM0Zb8d1l4b7mX1xXr2s9lW3dQ8Hq6pP1y5e4"}]},
    )

    refresh_token: str | None = Field(default=None, min_length=16, max_length=200)


USER_EXAMPLE: dict[str, JsonValue] = {
    "id": "0b7d3c1e-2f4a-4e5b-8c6d-7e8f9a0b1c2d",
    "role": "customer",
    "org_id": None,
    "driver_id": None,
    "email": "ada@example.com",
    "phone": None,
    "full_name": "",
    "active": True,
    "created_at": "2026-05-04T09:30:00Z",
}


class UserOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [USER_EXAMPLE]})

    id: uuid.UUID
    role: str
    org_id: uuid.UUID | None
    driver_id: uuid.UUID | None = None
    email: str | None
    phone: str | None
    full_name: str
    active: bool
    created_at: datetime


class TokenPair(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...",
                    "token_type": "bearer",
                    "expires_in": 900,
                    "refresh_token": "q3n0b1nM0Zb8d1l4b7mX1xXr2s9lW3dQ8Hq6pP1y5e4",
                    "user": USER_EXAMPLE,
                }
            ]
        }
    )

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds until the access token expires")
    refresh_token: str
    user: UserOut
