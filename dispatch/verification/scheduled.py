"""Periodic job: expire verification documents when due (recomputing their subject's flag)
and remind the organization 30, 7 and 1 days ahead, once per document and threshold."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.verification import rules
from dispatch.verification.rules import DocumentKind, SubjectType, SubmissionStatus
from dispatch.verification.schemas import ExpiryRun
from dispatch.verification.service import load_subject, refresh_subject, today_of
from persistence.models.fleet import Driver
from persistence.models.organizations import Organization
from persistence.models.outbox import OutboxEvent
from persistence.models.users import User
from persistence.models.verification import VerificationSubmission
from persistence.outbox import enqueue
from persistence.session import SYSTEM, tenant_session

TOPIC = "notify.insurance_expiry"
APPROVED = SubmissionStatus.APPROVED.value


def reminder_key(submission_id: uuid.UUID, threshold_days: int) -> str:
    return f"{TOPIC}:{submission_id}:{threshold_days}d"


async def expire_due(now: datetime) -> tuple[int, int]:
    """Expire approved documents whose date has come, one subject per transaction (the
    subject row is locked first, like every other change of its flag).
    Returns (documents expired, subjects that lost their verified flag)."""
    today = today_of(now)
    async with tenant_session(SYSTEM) as session:
        subjects = (await session.execute(
            select(VerificationSubmission.subject_type, VerificationSubmission.subject_id)
            .where(VerificationSubmission.status == APPROVED,
                   VerificationSubmission.expires_on <= today).distinct())).all()
    expired = unverified = 0
    for subject_type, subject_id in subjects:
        async with tenant_session(SYSTEM) as session:
            subject = await load_subject(session, SYSTEM, SubjectType(subject_type), subject_id,
                                         lock=True)
            was_verified = subject.verified
            ids = (await session.scalars(
                update(VerificationSubmission)
                .where(VerificationSubmission.subject_id == subject_id,
                       VerificationSubmission.status == APPROVED,
                       VerificationSubmission.expires_on <= today)
                .values(status=SubmissionStatus.EXPIRED.value, expired_at=now, updated_at=now)
                .returning(VerificationSubmission.id))).all()
            await refresh_subject(session, subject, today)
            expired += len(ids)
            unverified += int(was_verified and not subject.verified)
    return expired, unverified


async def _recipient(session: AsyncSession, org: Organization) -> dict[str, Any]:
    """The organization's contact address, else its longest-serving active admin."""
    if org.contact_email or org.contact_phone:
        return {"email": org.contact_email, "phone": org.contact_phone}
    admin_id = await session.scalar(
        select(User.id).where(User.org_id == org.id, User.role == "mover_admin", User.active)
        .order_by(User.created_at, User.id).limit(1))
    return {"user_id": str(admin_id)} if admin_id else {}


async def send_reminders(now: datetime) -> int:
    """Enqueue the reminder due today for each approved document; returns how many are new."""
    today = today_of(now)
    horizon = today + timedelta(days=max(rules.REMINDER_DAYS))
    async with tenant_session(SYSTEM) as session:
        rows = (await session.execute(
            select(VerificationSubmission, Organization, Driver.full_name)
            .join(Organization, Organization.id == VerificationSubmission.org_id)
            .outerjoin(Driver, Driver.id == VerificationSubmission.driver_id)
            .where(VerificationSubmission.status == APPROVED,
                   VerificationSubmission.expires_on > today,
                   VerificationSubmission.expires_on <= horizon))).all()
        due = {}
        for submission, org, driver_name in rows:
            threshold = rules.due_reminder(submission.expires_on, today)
            if threshold is not None:
                due[reminder_key(submission.id, threshold)] = (submission, org, driver_name)
        if not due:
            return 0
        sent = set(await session.scalars(
            select(OutboxEvent.idempotency_key).where(OutboxEvent.idempotency_key.in_(list(due)))))
        new = 0
        for key, (submission, org, driver_name) in due.items():
            recipient = await _recipient(session, org)
            if key in sent or not recipient:
                continue
            assert submission.expires_on is not None
            await enqueue(session, TOPIC, {**recipient, "context": {
                "org_name": org.name, "subject_name": driver_name or org.name,
                "document_type": rules.LABELS[DocumentKind(submission.kind)],
                "expires_on": submission.expires_on.isoformat(),
                "days_left": rules.days_left(submission.expires_on, today),
                "submission_id": str(submission.id)}},
                idempotency_key=key, org_id=org.id, aggregate_id=str(submission.id))
            new += 1
        return new


async def run_verification_expiry(now: datetime) -> ExpiryRun:
    """The scheduler's job: expire first (an expired document needs no reminder), then remind."""
    expired, unverified = await expire_due(now)
    reminded = await send_reminders(now)
    return ExpiryRun(reminded=reminded, expired=expired, subjects_unverified=unverified)
