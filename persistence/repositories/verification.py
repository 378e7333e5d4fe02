"""Verification queries: submissions by subject and state, the subjects whose flag they decide,
and what the expiry job needs (due subjects, expiring documents, reminders already queued)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import Row, Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.models.fleet import Driver
from persistence.models.organizations import Organization
from persistence.models.outbox import OutboxEvent
from persistence.models.users import User
from persistence.models.verification import VerificationSubmission
from persistence.repositories.base import Repository
from persistence.statuses import SubmissionStatus

RowT = TypeVar("RowT")
APPROVED, EXPIRED, SUPERSEDED = (
    SubmissionStatus.APPROVED,
    SubmissionStatus.EXPIRED,
    SubmissionStatus.SUPERSEDED,
)


def _fresh_lock(statement: Select[RowT], lock: bool) -> Select[RowT]:
    """Locked rows are read afresh, even if this session has loaded them before."""
    if not lock:
        return statement
    return statement.with_for_update().execution_options(populate_existing=True)


class VerificationSubjects:
    """The rows whose `verified` flag verification decides: organizations and drivers."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def organization(self, org_id: uuid.UUID, *, lock: bool = False) -> Organization | None:
        """The organization, locked afresh when its flag may change (changes serialize on it)."""
        org: Organization | None = await self.session.scalar(
            _fresh_lock(select(Organization).where(Organization.id == org_id), lock)
        )
        return org

    async def driver(self, driver_id: uuid.UUID, *, lock: bool = False) -> Driver | None:
        """The driver if RLS shows it, locked afresh when its flag may change."""
        driver: Driver | None = await self.session.scalar(
            _fresh_lock(select(Driver).where(Driver.id == driver_id), lock)
        )
        return driver


class VerificationRepository(Repository[VerificationSubmission]):
    model = VerificationSubmission

    async def lock_for_decision(self, submission_id: uuid.UUID) -> VerificationSubmission | None:
        """The submission locked and read afresh, so a review decision sees the latest state."""
        submission: VerificationSubmission | None = await self.session.scalar(
            _fresh_lock(
                select(VerificationSubmission).where(VerificationSubmission.id == submission_id), True
            )
        )
        return submission

    async def supersede_open(
        self, subject_id: uuid.UUID, kind: str, open_statuses: Sequence[str], now: datetime
    ) -> None:
        """A new submission replaces the subject's undecided one for the same requirement."""
        await self.session.execute(
            update(VerificationSubmission)
            .where(
                VerificationSubmission.subject_id == subject_id,
                VerificationSubmission.kind == kind,
                VerificationSubmission.status.in_(list(open_statuses)),
            )
            .values(status=SUPERSEDED, updated_at=now)
            .execution_options(synchronize_session=False)
        )

    async def supersede_other_approved(
        self, subject_id: uuid.UUID, kind: str, approved_id: uuid.UUID, now: datetime
    ) -> None:
        """A newly approved document replaces the subject's earlier approval of that kind."""
        await self.session.execute(
            update(VerificationSubmission)
            .where(
                VerificationSubmission.subject_id == subject_id,
                VerificationSubmission.kind == kind,
                VerificationSubmission.status == APPROVED,
                VerificationSubmission.id != approved_id,
            )
            .values(status=SUPERSEDED, updated_at=now)
            .execution_options(synchronize_session=False)
        )

    def review_queue(
        self, statuses: Sequence[str], *, kind: str | None = None, subject_type: str | None = None
    ) -> Select[Any]:
        """Submissions in the given states, oldest first, for the admins' review queue."""
        statement = (
            select(VerificationSubmission)
            .where(VerificationSubmission.status.in_(list(statuses)))
            .order_by(VerificationSubmission.created_at, VerificationSubmission.id)
        )
        if kind is not None:
            statement = statement.where(VerificationSubmission.kind == kind)
        if subject_type is not None:
            statement = statement.where(VerificationSubmission.subject_type == subject_type)
        return statement

    async def standing(self, subject_id: uuid.UUID) -> list[VerificationSubmission]:
        """The subject's submissions that still count (all but superseded), for its flag."""
        rows = await self.session.scalars(
            select(VerificationSubmission).where(
                VerificationSubmission.subject_id == subject_id, VerificationSubmission.status != SUPERSEDED
            )
        )
        return list(rows)

    async def subjects_with_expired_approvals(self, today: date) -> list[Row[str, uuid.UUID]]:
        """(subject_type, subject_id) of every subject holding an approval due to expire."""
        rows = await self.session.execute(
            select(VerificationSubmission.subject_type, VerificationSubmission.subject_id)
            .where(VerificationSubmission.status == APPROVED, VerificationSubmission.expires_on <= today)
            .distinct()
        )
        return list(rows.all())

    async def expire_approvals(self, subject_id: uuid.UUID, today: date, now: datetime) -> list[uuid.UUID]:
        """Mark the subject's approvals whose date has come expired; returns their ids."""
        ids = await self.session.scalars(
            update(VerificationSubmission)
            .where(
                VerificationSubmission.subject_id == subject_id,
                VerificationSubmission.status == APPROVED,
                VerificationSubmission.expires_on <= today,
            )
            .values(status=EXPIRED, expired_at=now, updated_at=now)
            .returning(VerificationSubmission.id)
        )
        return list(ids.all())

    async def approvals_expiring(
        self,
        after: date,
        until: date,
    ) -> list[Row[VerificationSubmission, Organization, str | None]]:
        """Approved documents expiring in (after, until], with their organization and, for a
        driver's document, the driver's name: who the expiry reminders go to and are about."""
        rows = await self.session.execute(
            select(VerificationSubmission, Organization, Driver.full_name)
            .join(Organization, Organization.id == VerificationSubmission.org_id)
            .outerjoin(Driver, Driver.id == VerificationSubmission.driver_id)
            .where(
                VerificationSubmission.status == APPROVED,
                VerificationSubmission.expires_on > after,
                VerificationSubmission.expires_on <= until,
            )
        )
        return list(rows.all())

    async def queued_reminders(self, keys: Collection[str]) -> set[str]:
        """Which of these reminder idempotency keys are already in the outbox (sent once)."""
        return set(
            await self.session.scalars(
                select(OutboxEvent.idempotency_key).where(OutboxEvent.idempotency_key.in_(list(keys)))
            )
        )

    async def reminder_admin(self, org_id: uuid.UUID) -> uuid.UUID | None:
        """The organization's longest-serving active admin, who hears about expiring documents
        when the organization has no contact address."""
        admin_id: uuid.UUID | None = await self.session.scalar(
            select(User.id)
            .where(User.org_id == org_id, User.role == "mover_admin", User.active)
            .order_by(User.created_at, User.id)
            .limit(1)
        )
        return admin_id
