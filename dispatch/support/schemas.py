"""Pydantic I/O of support tickets: opening, comments, assignment, resolution, statistics."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from dispatch.support.rules import IssueType, Priority
from persistence.statuses import TicketStatus

_TICKET_EXAMPLE: dict[str, Any] = {
    "id": "2b1c0d9e-8f7a-4b6c-9d5e-4f3a2b1c0d9e",
    "reference": "SUP-000042",
    "org_id": "0b6f3c9d-2e11-4f0e-9a51-7d3f8c1e2b8e",
    "customer_id": "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
    "opened_by": "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
    "opened_by_role": "customer",
    "booking_id": "1c9e2d4a-5b6f-4a3e-8d7c-2e1f0a9b8c7d",
    "issue_type": "damage",
    "subject": "Scratched wardrobe",
    "description": "The left door was scratched on unloading.",
    "priority": "high",
    "priority_reasons": ["damage starts at high"],
    "status": "open",
    "assignee_id": None,
    "sla_due_at": "2026-11-25T09:00:00Z",
    "escalated": False,
    "escalation_level": 0,
    "first_response_at": None,
    "resolution": "",
    "resolved_at": None,
    "refund_id": None,
    "closed_at": None,
    "created_at": "2026-11-24T09:00:00Z",
    "updated_at": "2026-11-24T09:00:00Z",
}
_COMMENT_EXAMPLE: dict[str, Any] = {
    "id": "6d5c4b3a-2f1e-4d0c-9b8a-7f6e5d4c3b2a",
    "ticket_id": "2b1c0d9e-8f7a-4b6c-9d5e-4f3a2b1c0d9e",
    "author_id": "9e8d7c6b-5a4f-4e3d-2c1b-0a9f8e7d6c5b",
    "author_role": "platform_admin",
    "body": "Sorry about the wardrobe. Could you send a photo of the scratch?",
    "internal": False,
    "created_at": "2026-11-24T10:00:00Z",
}


class TicketCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "issue_type": "damage",
                    "subject": "Scratched wardrobe",
                    "description": "The left door was scratched on unloading.",
                    "booking_id": "1c9e2d4a-5b6f-4a3e-8d7c-2e1f0a9b8c7d",
                }
            ]
        },
    )

    issue_type: IssueType
    subject: str = Field(min_length=3, max_length=200)
    description: str = Field(min_length=1, max_length=5000)
    booking_id: uuid.UUID | None = Field(default=None, description="a booking the caller can see")


class CommentCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"body": "Could you send a photo of the scratch?", "internal": False},
                {"body": "Crew lead admits the door hit the stairwell.", "internal": True},
            ]
        },
    )

    body: str = Field(min_length=1, max_length=5000)
    internal: StrictBool = Field(default=False, description="an internal note, never shown to customers")


class AssignRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"assignee_id": "9e8d7c6b-5a4f-4e3d-2c1b-0a9f8e7d6c5b"}]},
    )

    assignee_id: uuid.UUID = Field(description="a platform admin")


class ResolveRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "resolution": "Refunded the repair cost of the wardrobe door.",
                    "refund_cents": 8500,
                    "refund_note": "wardrobe door repair",
                }
            ]
        },
    )

    resolution: str = Field(min_length=3, max_length=5000)
    refund_cents: int | None = Field(
        default=None, gt=0, le=100_000_000, description="refund this much of the booking's payment"
    )
    refund_note: str = Field(default="", max_length=2000)


class ReopenRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "The refund never arrived."}]}
    )

    reason: str = Field(min_length=3, max_length=5000)


class TicketOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_TICKET_EXAMPLE]})

    id: uuid.UUID
    reference: str
    org_id: uuid.UUID | None
    customer_id: uuid.UUID | None
    opened_by: uuid.UUID
    opened_by_role: str
    booking_id: uuid.UUID | None
    issue_type: IssueType
    subject: str
    description: str
    priority: Priority
    priority_reasons: list[str]
    status: TicketStatus
    assignee_id: uuid.UUID | None
    sla_due_at: datetime
    escalated: bool
    escalation_level: int
    first_response_at: datetime | None
    resolution: str
    resolved_at: datetime | None
    refund_id: uuid.UUID | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class CommentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_COMMENT_EXAMPLE]})

    id: uuid.UUID
    ticket_id: uuid.UUID
    author_id: uuid.UUID
    author_role: str
    body: str
    internal: bool
    created_at: datetime


class TicketDetail(TicketOut):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{**_TICKET_EXAMPLE, "comments": [_COMMENT_EXAMPLE]}]}
    )

    comments: list[CommentOut] = Field(description="oldest first; customers never see internal notes")


class TicketStats(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "open_by_priority": {"low": 3, "normal": 12, "high": 4, "urgent": 1},
                    "open_total": 20,
                    "escalated_open": 2,
                    "median_first_response_s": 5400.0,
                    "median_resolution_s": 86400.0,
                    "since": "2026-10-25T00:00:00Z",
                    "org_id": "0b6f3c9d-2e11-4f0e-9a51-7d3f8c1e2b8e",
                }
            ]
        }
    )

    open_by_priority: dict[Priority, int]
    open_total: int
    escalated_open: int
    median_first_response_s: float | None = Field(
        description="median seconds from opening to the first reply the opener can read"
    )
    median_resolution_s: float | None = Field(
        description="median seconds from opening to resolution, of resolved tickets"
    )
    since: datetime | None
    org_id: uuid.UUID | None = Field(
        default=None, description="the organization the figures are about; null: the platform"
    )


class PriorityChange(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"priority": "urgent", "reason": "Customer moving abroad on Friday; the claim blocks it."}
            ]
        },
    )

    priority: Priority
    reason: str = Field(
        min_length=3, max_length=500, description="why; kept in the ticket's history as an internal note"
    )
