"""Status change payloads, the audit trail, and the lifecycle vocabulary the pages read."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dispatch.lifecycle.rules import Actor
from persistence.statuses import BookingStatus


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: BookingStatus = Field(examples=["en_route"])
    reason: str = Field(default="", max_length=2000)
    metadata: dict[str, Any] = Field(default_factory=dict)


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="", max_length=2000, examples=["customer not at the address"])


class HistoryEntry(BaseModel):
    id: int
    booking_id: uuid.UUID
    from_status: str | None
    to_status: str
    actor_user_id: uuid.UUID | None
    actor_role: str
    reason: str
    metadata: dict[str, Any]
    created_at: datetime


class StatusGroups(BaseModel):
    """The status groups several layers ask about (persistence/statuses.py), each in order."""

    driver_job: list[BookingStatus]
    in_progress: list[BookingStatus]
    active: list[BookingStatus]
    open: list[BookingStatus]
    finished: list[BookingStatus]


class Lifecycle(BaseModel):
    """The booking statuses (lifecycle order), their groups, and every allowed move:
    `moves[from][to]` lists the actors that may make it (platform admins may make any listed
    move); every status is a key of `moves`, `{}` when nothing follows it."""

    statuses: list[BookingStatus]
    groups: StatusGroups
    moves: dict[BookingStatus, dict[BookingStatus, list[Actor]]]
