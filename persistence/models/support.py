"""Support tickets and their comments.

Who owns a ticket, and why org_id may be NULL
---------------------------------------------
A ticket belongs to up to two parties, each named by one column that a row-level security
policy reads:

* `org_id`: the mover organization whose staff handle it. A mover's own ticket carries the
  mover's org; a customer's ticket about a booking carries the booking's org (the database
  checks, on a customer's insert, that the booking exists, is theirs and belongs to that org).
* `customer_id`: the customer who opened it; NULL when a mover opened it.

A customer's ticket without a booking (a question about their account or a charge) concerns
no mover, so its org_id is NULL. NULL is sound under RLS because the staff policy is
`app_is_staff_of(org_id)`, i.e. `org_id = app_org_id()`, which is never true for NULL: no
staff of any org can see such a ticket, only its customer (by `customer_id`) and platform
admins. The alternatives are worse: a made-up "platform" organization would be a real row in
the public organization directory that any code creating or matching orgs could trip over,
and a separate table for org-less tickets would split every query and statistic in two.
A CHECK makes every ticket owned by someone (`customer_id` or `org_id` is set), so no ticket
is visible to admins alone by accident. Comments carry a copy of the ticket's org_id, but
their policies go through the ticket itself (EXISTS on support_tickets, which applies the
ticket's policies), and internal notes are refused to customers by the database.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from persistence.models.base import Base, status_known, timestamp_column, uuid_pk
from persistence.statuses import TicketStatus

ISSUE_TYPES = ("damage", "late_arrival", "no_show", "billing", "other")
PRIORITIES = ("low", "normal", "high", "urgent")


class SupportTicket(Base):
    __tablename__ = "support_tickets"
    __table_args__ = (
        CheckConstraint(f"issue_type IN {ISSUE_TYPES}", name="issue_type_known"),
        CheckConstraint(f"priority IN {PRIORITIES}", name="priority_known"),
        status_known(TicketStatus),
        CheckConstraint("customer_id IS NOT NULL OR org_id IS NOT NULL", name="has_owner"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    number: Mapped[int] = mapped_column(BigInteger, Identity(always=True), unique=True)
    org_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE")
    )
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE")
    )
    opened_by: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE")
    )
    opened_by_role: Mapped[str] = mapped_column(String(20))
    booking_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("bookings.id", ondelete="SET NULL")
    )
    issue_type: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    priority: Mapped[str] = mapped_column(String(8))
    priority_reasons: Mapped[str] = mapped_column(Text, default="", server_default="")
    status: Mapped[str] = mapped_column(String(16), default="open", server_default="open")
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    sla_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    escalated: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    escalation_level: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_response_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolution: Mapped[str] = mapped_column(Text, default="", server_default="")
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    refund_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("refunds.id", ondelete="SET NULL")
    )
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[datetime] = timestamp_column()
    updated_at: Mapped[datetime] = timestamp_column()

    __mapper_args__ = {"version_id_col": version}

    @property
    def reference(self) -> str:
        """What people quote on the phone: SUP-000123."""
        return f"SUP-{self.number:06d}"


class SupportComment(Base):
    __tablename__ = "support_comments"

    id: Mapped[uuid.UUID] = uuid_pk()
    ticket_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("support_tickets.id", ondelete="CASCADE")
    )
    org_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    author_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE")
    )
    author_role: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    internal: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    created_at: Mapped[datetime] = timestamp_column()


# The indexes the migrations create, declared here too: tests/integration/test_schema_drift.py
# holds these models and the migrated schema to the same shape.
Index("ix_support_comments_ticket", SupportComment.ticket_id, SupportComment.created_at, SupportComment.id)
Index(
    "ix_support_tickets_active_sla",
    SupportTicket.sla_due_at,
    SupportTicket.id,
    postgresql_where=text("status IN ('open', 'in_progress')"),
)
Index(
    "ix_support_tickets_assignee", SupportTicket.assignee_id, postgresql_where=text("assignee_id IS NOT NULL")
)
Index("ix_support_tickets_booking", SupportTicket.booking_id)
Index("ix_support_tickets_customer", SupportTicket.customer_id, SupportTicket.created_at.desc())
Index("ix_support_tickets_org", SupportTicket.org_id, SupportTicket.created_at.desc())
