"""Pydantic I/O of verification: submissions, decisions and the status of a subject."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dispatch.verification.rules import DocumentKind, SubjectType

_SUBMISSION_EXAMPLE: dict[str, Any] = {
    "id": "3f0c1d2e-4b5a-4c6d-8e7f-9a0b1c2d3e4f",
    "org_id": "0b6f3c9d-2e11-4f0e-9a51-7d3f8c1e2b8e",
    "subject_type": "organization",
    "subject_id": "0b6f3c9d-2e11-4f0e-9a51-7d3f8c1e2b8e",
    "kind": "liability_insurance",
    "document_id": "9c8b7a6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d",
    "expires_on": "2027-06-30",
    "status": "pending",
    "rejection_reason": "",
    "submitted_by": "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
    "reviewer_id": None,
    "created_at": "2026-11-24T09:00:00Z",
    "decided_at": None,
}


class SubmissionCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "subject_type": "organization",
                    "subject_id": "0b6f3c9d-2e11-4f0e-9a51-7d3f8c1e2b8e",
                    "kind": "liability_insurance",
                    "document_id": "9c8b7a6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d",
                    "expires_on": "2027-06-30",
                }
            ]
        },
    )

    subject_type: SubjectType
    subject_id: uuid.UUID
    kind: DocumentKind
    document_id: uuid.UUID = Field(description="an uploaded document of the subject's organization")
    expires_on: date | None = Field(
        default=None,
        description="last day before the document is no longer valid; optional only for a background check",
    )


class RejectRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"reason": "The policy number is unreadable; upload a sharper scan."}]
        },
    )

    reason: str = Field(min_length=3, max_length=1000)


class SubmissionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_SUBMISSION_EXAMPLE]})

    id: uuid.UUID
    org_id: uuid.UUID
    subject_type: SubjectType
    subject_id: uuid.UUID
    kind: DocumentKind
    document_id: uuid.UUID
    expires_on: date | None
    status: str = Field(examples=["pending"])
    rejection_reason: str
    submitted_by: uuid.UUID | None
    reviewer_id: uuid.UUID | None
    created_at: datetime
    decided_at: datetime | None


class RequirementOut(BaseModel):
    kind: DocumentKind
    state: str = Field(
        description="approved | under_review | pending | rejected | expired | missing", examples=["approved"]
    )
    expires_on: date | None
    submission_id: uuid.UUID | None


class SubjectStatusOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "subject_type": "driver",
                    "subject_id": "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
                    "org_id": "0b6f3c9d-2e11-4f0e-9a51-7d3f8c1e2b8e",
                    "verified": False,
                    "requirements_met": False,
                    "requirements": [
                        {
                            "kind": "drivers_license",
                            "state": "approved",
                            "expires_on": "2029-03-31",
                            "submission_id": "3f0c1d2e-4b5a-4c6d-8e7f-9a0b1c2d3e4f",
                        },
                        {
                            "kind": "background_check",
                            "state": "under_review",
                            "expires_on": None,
                            "submission_id": "7e6d5c4b-3a2f-4e1d-9c8b-7a6f5e4d3c2b",
                        },
                    ],
                }
            ]
        }
    )

    subject_type: SubjectType
    subject_id: uuid.UUID
    org_id: uuid.UUID
    verified: bool = Field(description="the stored flag dispatch reads (offers, auto-assignment)")
    requirements_met: bool = Field(description="every required document approved and unexpired today")
    requirements: list[RequirementOut]


class ExpiryRun(BaseModel):
    """What one pass of the expiry job did."""

    reminded: int = 0
    expired: int = 0
    subjects_unverified: int = 0
