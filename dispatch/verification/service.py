"""Use cases of verification: submit a document for a requirement, review it (platform
admins), and keep each subject's aggregated `verified` flag true to its documents.

Every change that can move the flag first locks the subject's row (the organization or the
driver), so two admins approving the last two documents at once serialize and the second
one sees the first one's approval: the flag can never be left false with everything approved.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.errors import Conflict, NotFound
from dispatch.kit.pagination import Page, PageParams
from dispatch.verification import rules
from dispatch.verification.rules import DocumentKind, SubjectType
from dispatch.verification.schemas import (
    RequirementOut,
    SubjectStatusOut,
    SubmissionCreate,
    SubmissionOut,
)
from persistence.models.fleet import Driver
from persistence.models.organizations import Organization
from persistence.models.verification import VerificationSubmission
from persistence.outbox import enqueue
from persistence.repositories.documents import DocumentRepository
from persistence.repositories.verification import VerificationRepository, VerificationSubjects
from persistence.session import Caller
from persistence.statuses import SubmissionStatus


def today_of(now: datetime) -> date:
    return now.astimezone(UTC).date()


@dataclass(slots=True)
class Subject:
    """An organization or a driver, as a verification subject."""

    type: SubjectType
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    row: Organization | Driver

    @property
    def verified(self) -> bool:
        return bool(self.row.verified)


async def load_subject(
    session: AsyncSession,
    caller: Caller,
    subject_type: SubjectType,
    subject_id: uuid.UUID,
    *,
    lock: bool = False,
) -> Subject:
    """The subject if the caller may act on it; another tenant's subject is NotFound.

    Organizations are a public directory under RLS, so their visibility is checked here:
    platform admins see all, staff only their own organization. Drivers are hidden by RLS
    from everyone but their org's staff, admins and the driver themself.
    """
    if subject_type is SubjectType.ORGANIZATION:
        if not caller.is_admin and not (caller.is_staff and caller.org_id == subject_id):
            raise NotFound("no such organization")
        org = await VerificationSubjects(session).organization(subject_id, lock=lock)
        if org is None:
            raise NotFound("no such organization")
        return Subject(subject_type, org.id, org.id, org.name, org)
    driver = await VerificationSubjects(session).driver(subject_id, lock=lock)
    if driver is None:
        raise NotFound("no such driver")
    return Subject(subject_type, driver.id, driver.org_id, driver.full_name, driver)


async def _check_document(session: AsyncSession, document_id: uuid.UUID, org_id: uuid.UUID) -> None:
    """The document must be one the caller can see (RLS) and belong to the subject's org."""
    if await DocumentRepository(session).org_of(document_id) != org_id:
        raise NotFound("no such document", field="document_id")


def submission_out(submission: VerificationSubmission) -> SubmissionOut:
    return SubmissionOut.model_validate(submission)


async def submit(
    session: AsyncSession, caller: Caller, request: SubmissionCreate, now: datetime | None = None
) -> SubmissionOut:
    """Offer a document for one requirement; an open submission of the same requirement is
    superseded by it (the mover corrects an upload without waiting for a rejection)."""
    now = now or datetime.now(UTC)
    rules.check_kind_for_subject(request.subject_type, request.kind)
    rules.check_expiry(request.kind, request.expires_on, today_of(now))
    subject = await load_subject(session, caller, request.subject_type, request.subject_id)
    await _check_document(session, request.document_id, subject.org_id)
    await VerificationRepository(session).supersede_open(
        subject.id, request.kind.value, [s.value for s in rules.OPEN_STATUSES], now
    )
    submission = VerificationSubmission(
        org_id=subject.org_id,
        subject_type=subject.type.value,
        subject_id=subject.id,
        driver_id=subject.id if subject.type is SubjectType.DRIVER else None,
        kind=request.kind.value,
        document_id=request.document_id,
        expires_on=request.expires_on,
        status=SubmissionStatus.PENDING.value,
        submitted_by=caller.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(submission)
    await session.flush()
    return submission_out(submission)


async def get_submission(session: AsyncSession, submission_id: uuid.UUID) -> SubmissionOut:
    submission = await VerificationRepository(session).get_by_id(submission_id)
    if submission is None:
        raise NotFound("no such verification submission")
    return submission_out(submission)


async def review_queue(
    session: AsyncSession,
    params: PageParams,
    *,
    kind: DocumentKind | None = None,
    subject_type: SubjectType | None = None,
    status: SubmissionStatus | None = None,
) -> Page[SubmissionOut]:
    """Undecided submissions, oldest first (platform admins)."""
    statuses = [status.value] if status else [s.value for s in rules.OPEN_STATUSES]
    submissions = VerificationRepository(session)
    statement = submissions.review_queue(
        statuses, kind=kind.value if kind else None, subject_type=subject_type.value if subject_type else None
    )
    rows, total = await submissions.page(statement, limit=params.limit, offset=params.offset)
    return Page.of([submission_out(row) for row in rows], total, params)


async def _locked_submission(session: AsyncSession, submission_id: uuid.UUID) -> VerificationSubmission:
    submission = await VerificationRepository(session).lock_for_decision(submission_id)
    if submission is None:
        raise NotFound("no such verification submission")
    return submission


async def _decide(
    session: AsyncSession,
    caller: Caller,
    submission_id: uuid.UUID,
    target: SubmissionStatus,
    now: datetime,
    reason: str = "",
) -> VerificationSubmission:
    """Lock the subject, then the submission; move it; recompute the subject's flag."""
    found = await VerificationRepository(session).get_by_id(submission_id)
    if found is None:
        raise NotFound("no such verification submission")
    subject = await load_subject(
        session, caller, SubjectType(found.subject_type), found.subject_id, lock=True
    )
    submission = await _locked_submission(session, submission_id)
    rules.check_transition(submission.status, target)
    today = today_of(now)
    if target is SubmissionStatus.APPROVED and rules.is_due_to_expire(submission.expires_on, today):
        raise Conflict(
            "the document has expired since it was submitted; reject it",
            expires_on=str(submission.expires_on),
        )
    submission.status, submission.reviewer_id = target.value, caller.user_id
    submission.decided_at, submission.updated_at = now, now
    submission.rejection_reason = reason
    if target is SubmissionStatus.APPROVED:
        await VerificationRepository(session).supersede_other_approved(
            subject.id, submission.kind, submission.id, now
        )
    await session.flush()
    await refresh_subject(session, subject, today)
    return submission


async def start_review(
    session: AsyncSession, caller: Caller, submission_id: uuid.UUID, now: datetime | None = None
) -> SubmissionOut:
    """A platform admin takes a pending submission off the queue's top."""
    now = now or datetime.now(UTC)
    submission = await _locked_submission(session, submission_id)
    rules.check_transition(submission.status, SubmissionStatus.UNDER_REVIEW)
    submission.status = SubmissionStatus.UNDER_REVIEW.value
    submission.reviewer_id, submission.review_started_at = caller.user_id, now
    submission.updated_at = now
    await session.flush()
    return submission_out(submission)


async def approve(
    session: AsyncSession, caller: Caller, submission_id: uuid.UUID, now: datetime | None = None
) -> SubmissionOut:
    submission = await _decide(
        session, caller, submission_id, SubmissionStatus.APPROVED, now or datetime.now(UTC)
    )
    return submission_out(submission)


async def reject(
    session: AsyncSession, caller: Caller, submission_id: uuid.UUID, reason: str, now: datetime | None = None
) -> SubmissionOut:
    submission = await _decide(
        session, caller, submission_id, SubmissionStatus.REJECTED, now or datetime.now(UTC), reason=reason
    )
    return submission_out(submission)


async def _facts(session: AsyncSession, subject_id: uuid.UUID) -> list[rules.SubmissionFact]:
    rows = await VerificationRepository(session).standing(subject_id)
    return [
        rules.SubmissionFact(
            kind=row.kind,
            status=row.status,
            expires_on=row.expires_on,
            submission_id=str(row.id),
            submitted_at=row.created_at,
        )
        for row in rows
    ]


async def refresh_subject(session: AsyncSession, subject: Subject, today: date) -> rules.SubjectStatus:
    """Write the aggregated flag; when it flips, tell the fleet shards (same transaction)."""
    status = rules.aggregate(subject.type, await _facts(session, subject.id), today)
    if subject.verified != status.verified:
        subject.row.verified = status.verified
        await session.flush()
        await enqueue(
            session,
            "fleet.changed",
            {
                "org_id": str(subject.org_id),
                "kind": subject.type.value,
                "id": str(subject.id),
                "action": "verified" if status.verified else "unverified",
            },
            org_id=subject.org_id,
            aggregate_id=str(subject.id),
        )
    return status


async def subject_status(
    session: AsyncSession,
    caller: Caller,
    subject_type: SubjectType,
    subject_id: uuid.UUID,
    now: datetime | None = None,
) -> SubjectStatusOut:
    subject = await load_subject(session, caller, subject_type, subject_id)
    status = rules.aggregate(
        subject.type, await _facts(session, subject.id), today_of(now or datetime.now(UTC))
    )
    return SubjectStatusOut(
        subject_type=subject.type,
        subject_id=subject.id,
        org_id=subject.org_id,
        verified=subject.verified,
        requirements_met=status.verified,
        requirements=[
            RequirementOut(
                kind=r.kind,
                state=r.state,
                expires_on=r.expires_on,
                submission_id=uuid.UUID(r.submission_id) if r.submission_id else None,
            )
            for r in status.requirements
        ],
    )
