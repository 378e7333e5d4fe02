"""Pydantic I/O of ratings and reviews."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

Stars = Field(ge=1, le=5)


class RatingCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"overall": 5, "driver_rating": 4, "comment": "Careful with the piano, on time."}]
        },
    )

    overall: int = Stars
    driver_rating: int | None = Field(default=None, ge=1, le=5)
    comment: str = Field(default="", max_length=2000)


class RatingUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"overall": 4, "comment": "One scratch on the wardrobe, handled well."}]
        },
    )

    overall: int | None = Field(default=None, ge=1, le=5)
    driver_rating: int | None = Field(default=None, ge=1, le=5)
    comment: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _something_to_change(self) -> RatingUpdate:
        if not self.model_fields_set:
            raise ValueError("send at least one of overall, driver_rating, comment")
        return self


class HideRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "Personal data of the crew in the comment"}]},
    )

    reason: str = Field(min_length=1, max_length=500)


class RatingOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "7d3f8c1e-2b8e-4f0e-9a51-0b6f3c9d2e11",
                    "booking_id": "1c9e2d4a-5b6f-4a3e-8d7c-2e1f0a9b8c7d",
                    "org_id": "0b6f3c9d-2e11-4f0e-9a51-7d3f8c1e2b8e",
                    "driver_id": "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
                    "overall": 5,
                    "driver_rating": 4,
                    "comment": "Careful with the piano, on time.",
                    "hidden": False,
                    "hidden_reason": "",
                    "created_at": "2026-11-20T10:00:00Z",
                    "updated_at": "2026-11-20T10:00:00Z",
                    "editable_until": "2026-11-27T10:00:00Z",
                }
            ]
        },
    )

    id: uuid.UUID
    booking_id: uuid.UUID
    org_id: uuid.UUID
    driver_id: uuid.UUID | None
    overall: int
    driver_rating: int | None
    comment: str
    hidden: bool
    hidden_reason: str
    created_at: datetime
    updated_at: datetime
    editable_until: datetime


class Review(BaseModel):
    """A rating as the public sees it: no customer identity."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    overall: int
    driver_rating: int | None
    comment: str
    created_at: datetime


class ReviewPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": "7d3f8c1e-2b8e-4f0e-9a51-0b6f3c9d2e11",
                            "overall": 5,
                            "driver_rating": 5,
                            "comment": "Fast and friendly",
                            "created_at": "2026-11-20T10:00:00Z",
                        }
                    ],
                    "total": 1,
                    "limit": 20,
                    "offset": 0,
                    "next_offset": None,
                }
            ]
        }
    )

    items: list[Review]
    total: int
    limit: int
    offset: int
    next_offset: int | None


class RatingSummary(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "org_id": "0b6f3c9d-2e11-4f0e-9a51-7d3f8c1e2b8e",
                    "average": 4.5,
                    "count": 4,
                    "breakdown": {"1": 0, "2": 0, "3": 0, "4": 2, "5": 2},
                }
            ]
        }
    )

    org_id: uuid.UUID
    average: float
    count: int
    breakdown: dict[str, int]


class ScoreSummary(BaseModel):
    """Average, count and 1-5 distribution of one score of visible ratings."""

    average: float
    count: int
    distribution: dict[str, int]


class DriverRatingSummary(BaseModel):
    """A driver's visible ratings: the driver's own stars (`average`, `count`, `distribution`,
    the same figures as the driver's rating_avg) and, in `breakdown`, each score a rating has:
    `driver_rating` and the `overall` stars of the moves the driver did."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "driver_id": "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
                    "average": 4.5,
                    "count": 2,
                    "distribution": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1},
                    "breakdown": {
                        "driver_rating": {
                            "average": 4.5,
                            "count": 2,
                            "distribution": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1},
                        },
                        "overall": {
                            "average": 4.0,
                            "count": 3,
                            "distribution": {"1": 0, "2": 0, "3": 1, "4": 1, "5": 1},
                        },
                    },
                }
            ]
        }
    )

    driver_id: uuid.UUID
    average: float
    count: int
    distribution: dict[str, int]
    breakdown: dict[str, ScoreSummary]
