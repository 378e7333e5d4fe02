"""Status change payloads and the audit trail."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dispatch.lifecycle.rules import Status


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: Status = Field(examples=["en_route"])
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
