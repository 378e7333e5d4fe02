"""Verification submissions: a document offered as proof of one requirement of an org or driver."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Index, String, Text, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from persistence.models.base import Base, status_known, timestamp_column, uuid_pk
from persistence.statuses import SubmissionStatus

DOCUMENT_KINDS = (
    "business_license",
    "liability_insurance",
    "workers_comp",
    "drivers_license",
    "background_check",
)


class VerificationSubmission(Base):
    """Subject is the organization itself (driver_id NULL) or one of its drivers."""

    __tablename__ = "verification_submissions"
    __table_args__ = (
        status_known(SubmissionStatus),
        CheckConstraint(f"kind IN {DOCUMENT_KINDS}", name="kind_known"),
        CheckConstraint(
            "(subject_type = 'organization' AND driver_id IS NULL AND subject_id = org_id)"
            " OR (subject_type = 'driver' AND driver_id = subject_id)",
            name="subject_consistent",
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    org_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE")
    )
    subject_type: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    driver_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("drivers.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(32))
    document_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("documents.id", ondelete="RESTRICT")
    )
    expires_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    rejection_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    submitted_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    reviewer_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    review_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = timestamp_column()
    updated_at: Mapped[datetime] = timestamp_column()


# The indexes the migrations create, declared here too: tests/integration/test_schema_drift.py
# holds these models and the migrated schema to the same shape.
Index("ix_verification_submissions_document", VerificationSubmission.document_id)
Index(
    "ix_verification_submissions_expiry",
    VerificationSubmission.expires_on,
    postgresql_where=text("status = 'approved'"),
)
Index("ix_verification_submissions_org", VerificationSubmission.org_id)
Index(
    "ix_verification_submissions_queue",
    VerificationSubmission.created_at,
    VerificationSubmission.id,
    postgresql_where=text("status IN ('pending', 'under_review')"),
)
Index("ix_verification_submissions_subject", VerificationSubmission.subject_id, VerificationSubmission.kind)
