"""Verification submissions: a document offered as proof of one requirement of an org or driver."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, String, Text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from persistence.models.base import Base, timestamp_column, uuid_pk

SUBMISSION_STATUSES = ("pending", "under_review", "approved", "rejected", "expired", "superseded")
DOCUMENT_KINDS = ("business_license", "liability_insurance", "workers_comp", "drivers_license",
                  "background_check")


class VerificationSubmission(Base):
    """Subject is the organization itself (driver_id NULL) or one of its drivers."""

    __tablename__ = "verification_submissions"
    __table_args__ = (
        CheckConstraint(f"status IN {SUBMISSION_STATUSES}", name="status_known"),
        CheckConstraint(f"kind IN {DOCUMENT_KINDS}", name="kind_known"),
        CheckConstraint("(subject_type = 'organization' AND driver_id IS NULL AND subject_id = org_id)"
                        " OR (subject_type = 'driver' AND driver_id = subject_id)",
                        name="subject_consistent"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    org_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE"))
    subject_type: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    driver_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("drivers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    # References documents(id) in the database (ON DELETE RESTRICT); the documents model is
    # another feature's, so the ORM side stays a plain column.
    document_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
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
