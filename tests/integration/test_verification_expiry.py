"""The verification expiry job on a controllable clock: reminders 30, 7 and 1 days ahead, each
once per document, then expiry that unverifies the subject and tells the fleet shards."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from dispatch.verification import service
from dispatch.verification.rules import SubjectType
from dispatch.verification.scheduled import reminder_key, run_verification_expiry
from dispatch.verification.schemas import SubmissionCreate
from persistence.models import Organization, OutboxEvent
from persistence.models.verification import VerificationSubmission
from persistence.session import SYSTEM, Caller, tenant_session
from tests.factories import caller_for, make_org, make_user
from tests.integration.test_verification import make_document, stored

# Far enough ahead that no other test's documents share these days.
START = datetime(2031, 1, 5, 8, tzinfo=UTC)
INSURANCE_ENDS = date(2031, 3, 1)
FAR_FUTURE = date(2039, 1, 1)


async def _verified_org(staff: Caller, admin: Caller, org: Organization) -> dict[str, uuid.UUID]:
    ids = {}
    for kind, expires_on in (
        ("business_license", FAR_FUTURE),
        ("liability_insurance", INSURANCE_ENDS),
        ("workers_comp", FAR_FUTURE),
    ):
        async with tenant_session(staff) as session:
            created = await service.submit(
                session,
                staff,
                SubmissionCreate(
                    subject_type="organization",
                    subject_id=org.id,
                    kind=kind,
                    document_id=await make_document(org),
                    expires_on=expires_on,
                ),
                now=START,
            )
        async with tenant_session(admin) as session:
            await service.start_review(session, admin, created.id, now=START)
            await service.approve(session, admin, created.id, now=START)
        ids[kind] = created.id
    return ids


async def _outbox(topic: str, org_id: uuid.UUID) -> list[OutboxEvent]:
    async with tenant_session(SYSTEM) as session:
        return list(
            await session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.topic == topic, OutboxEvent.org_id == org_id)
                .order_by(OutboxEvent.id)
            )
        )


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 6, tzinfo=UTC)


async def test_reminders_then_expiry_on_a_controlled_clock() -> None:
    org = await make_org(verified=False, contact_email="office@movers.example")
    staff = caller_for(await make_user("mover_admin", org))
    admin = caller_for(await make_user("platform_admin"))
    ids = await _verified_org(staff, admin, org)
    insurance = ids["liability_insurance"]
    assert (await stored(Organization, org.id)).verified is True

    async def reminders() -> list[str]:
        return [e.idempotency_key for e in await _outbox("notify.insurance_expiry", org.id)]

    await run_verification_expiry(at(INSURANCE_ENDS - timedelta(days=31)))
    assert await reminders() == []
    await run_verification_expiry(at(INSURANCE_ENDS - timedelta(days=30)))
    await run_verification_expiry(at(INSURANCE_ENDS - timedelta(days=30)) + timedelta(hours=5))
    await run_verification_expiry(at(INSURANCE_ENDS - timedelta(days=12)))
    assert await reminders() == [reminder_key(insurance, 30)]
    # The 7-day mark was missed by the scheduler: one 7-day reminder, not two.
    await run_verification_expiry(at(INSURANCE_ENDS - timedelta(days=5)))
    await run_verification_expiry(at(INSURANCE_ENDS - timedelta(days=2)))
    await run_verification_expiry(at(INSURANCE_ENDS - timedelta(days=1)))
    await run_verification_expiry(at(INSURANCE_ENDS - timedelta(days=1)) + timedelta(hours=17))
    assert await reminders() == [reminder_key(insurance, days) for days in (30, 7, 1)]
    [last] = (await _outbox("notify.insurance_expiry", org.id))[-1:]
    assert last.payload["email"] == "office@movers.example"
    assert last.payload["context"]["days_left"] == 1
    assert last.payload["context"]["document_type"] == "liability insurance"
    assert last.payload["context"]["expires_on"] == INSURANCE_ENDS.isoformat()
    assert (await stored(Organization, org.id)).verified is True
    assert (await stored(VerificationSubmission, insurance)).status == "approved"

    run = await run_verification_expiry(at(INSURANCE_ENDS))
    assert run.expired >= 1 and run.subjects_unverified >= 1
    expired = await stored(VerificationSubmission, insurance)
    assert expired.status == "expired" and expired.expired_at == at(INSURANCE_ENDS)
    assert (await stored(VerificationSubmission, ids["workers_comp"])).status == "approved"
    assert (await stored(Organization, org.id)).verified is False
    assert [e.payload["action"] for e in await _outbox("fleet.changed", org.id)] == ["verified", "unverified"]
    await run_verification_expiry(at(INSURANCE_ENDS) + timedelta(hours=1))
    assert (await stored(Organization, org.id)).verified is False
    assert len(await _outbox("fleet.changed", org.id)) == 2
    assert len(await reminders()) == 3

    async with tenant_session(admin) as session:
        status = await service.subject_status(
            session, admin, SubjectType.ORGANIZATION, org.id, now=at(INSURANCE_ENDS)
        )
    states = {r.kind.value: r.state for r in status.requirements}
    assert states["liability_insurance"] == "expired" and not status.requirements_met


async def test_renewal_approved_before_expiry_stops_reminders_and_keeps_verification() -> None:
    org = await make_org(verified=False)
    owner = await make_user("mover_admin", org)
    staff = caller_for(owner)
    admin = caller_for(await make_user("platform_admin"))
    ids = await _verified_org(staff, admin, org)
    renewed_at = at(INSURANCE_ENDS - timedelta(days=10))
    async with tenant_session(staff) as session:
        renewal = await service.submit(
            session,
            staff,
            SubmissionCreate(
                subject_type="organization",
                subject_id=org.id,
                kind="liability_insurance",
                document_id=await make_document(org),
                expires_on=date(2032, 3, 1),
            ),
            now=renewed_at,
        )
    async with tenant_session(admin) as session:
        await service.start_review(session, admin, renewal.id, now=renewed_at)
        await service.approve(session, admin, renewal.id, now=renewed_at)
    assert (await stored(VerificationSubmission, ids["liability_insurance"])).status == "superseded"
    for days_before in (7, 1, 0):
        await run_verification_expiry(at(INSURANCE_ENDS - timedelta(days=days_before)))
    assert await _outbox("notify.insurance_expiry", org.id) == []
    assert (await stored(Organization, org.id)).verified is True
    # Without a contact address the reminder goes to the org's admin, as a user.
    await run_verification_expiry(at(date(2032, 3, 1) - timedelta(days=30)))
    [reminder] = await _outbox("notify.insurance_expiry", org.id)
    assert reminder.payload["user_id"] == str(owner.id)
