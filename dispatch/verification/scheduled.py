"""Periodic job: expire verification documents when due (recomputing their subject's flag)
and remind the organization 30, 7 and 1 days ahead, once per document and threshold."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from dispatch.verification import rules
from dispatch.verification.rules import DocumentKind, SubjectType
from dispatch.verification.schemas import ExpiryRun
from dispatch.verification.service import load_subject, refresh_subject, today_of
from persistence.models.organizations import Organization
from persistence.outbox import enqueue
from persistence.repositories.verification import VerificationRepository
from persistence.session import SYSTEM, tenant_session

TOPIC = "notify.insurance_expiry"


def reminder_key(submission_id: uuid.UUID, threshold_days: int) -> str:
    return f"{TOPIC}:{submission_id}:{threshold_days}d"


async def expire_due(now: datetime) -> tuple[int, int]:
    """Expire approved documents whose date has come, one subject per transaction (the
    subject row is locked first, like every other change of its flag).
    Returns (documents expired, subjects that lost their verified flag)."""
    today = today_of(now)
    async with tenant_session(SYSTEM) as session:
        subjects = await VerificationRepository(session).subjects_with_expired_approvals(today)
    expired = unverified = 0
    for subject_type, subject_id in subjects:
        async with tenant_session(SYSTEM) as session:
            subject = await load_subject(session, SYSTEM, SubjectType(subject_type), subject_id, lock=True)
            was_verified = subject.verified
            ids = await VerificationRepository(session).expire_approvals(subject_id, today, now)
            await refresh_subject(session, subject, today)
            expired += len(ids)
            unverified += int(was_verified and not subject.verified)
    return expired, unverified


async def _recipient(submissions: VerificationRepository, org: Organization) -> dict[str, Any]:
    """The organization's contact address, else its longest-serving active admin."""
    if org.contact_email or org.contact_phone:
        return {"email": org.contact_email, "phone": org.contact_phone}
    admin_id = await submissions.reminder_admin(org.id)
    return {"user_id": str(admin_id)} if admin_id else {}


async def send_reminders(now: datetime) -> int:
    """Enqueue the reminder due today for each approved document; returns how many are new."""
    today = today_of(now)
    horizon = today + timedelta(days=max(rules.REMINDER_DAYS))
    async with tenant_session(SYSTEM) as session:
        submissions = VerificationRepository(session)
        rows = await submissions.approvals_expiring(today, horizon)
        due = {}
        for submission, org, driver_name in rows:
            threshold = rules.due_reminder(submission.expires_on, today)
            if threshold is not None:
                due[reminder_key(submission.id, threshold)] = (submission, org, driver_name)
        if not due:
            return 0
        sent = await submissions.queued_reminders(list(due))
        new = 0
        for key, (submission, org, driver_name) in due.items():
            recipient = await _recipient(submissions, org)
            if key in sent or not recipient:
                continue
            assert submission.expires_on is not None
            await enqueue(
                session,
                TOPIC,
                {
                    **recipient,
                    "context": {
                        "org_name": org.name,
                        "subject_name": driver_name or org.name,
                        "document_type": rules.LABELS[DocumentKind(submission.kind)],
                        "expires_on": submission.expires_on.isoformat(),
                        "days_left": rules.days_left(submission.expires_on, today),
                        "submission_id": str(submission.id),
                    },
                },
                idempotency_key=key,
                org_id=org.id,
                aggregate_id=str(submission.id),
            )
            new += 1
        return new


async def run_verification_expiry(now: datetime) -> ExpiryRun:
    """The scheduler's job: expire first (an expired document needs no reminder), then remind."""
    expired, unverified = await expire_due(now)
    reminded = await send_reminders(now)
    return ExpiryRun(reminded=reminded, expired=expired, subjects_unverified=unverified)
