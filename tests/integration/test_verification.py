"""Verification through the API: submissions, the admin queue, the state machine, the
aggregated verified flag (with its fleet.changed event), tenancy and bad input."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text

from dispatch.errors import Conflict
from dispatch.verification import service
from dispatch.verification.schemas import SubmissionCreate
from persistence.models import Driver, Organization, OutboxEvent, User
from persistence.models.verification import VerificationSubmission
from persistence.session import SYSTEM, tenant_session
from tests.factories import auth_headers, caller_for, make_driver, make_org, make_user

API = "/api/v1/verification"
ORG_KINDS = ("business_license", "liability_insurance", "workers_comp")


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


async def make_document(org: Organization, owner: User | None = None) -> uuid.UUID:
    """An uploaded document row of the org (written as the system, like a finished upload)."""
    async with tenant_session(SYSTEM) as session:
        document_id = (
            await session.execute(
                text(
                    "INSERT INTO documents (org_id, owner_user_id, purpose, storage_key, content_type,"
                    " size_bytes, sha256, original_name, status, stored_at)"
                    " VALUES (:org, :owner, 'verification', :key, 'application/pdf', 1234, :sha,"
                    " 'proof.pdf', 'stored', now()) RETURNING id"
                ),
                {
                    "org": org.id,
                    "owner": owner.id if owner else None,
                    "key": f"test/{uuid.uuid4()}",
                    "sha": secrets.token_hex(32),
                },
            )
        ).scalar_one()
    return uuid.UUID(str(document_id))


def expiry(days: int = 365) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


async def submit(
    client: httpx.AsyncClient,
    staff: User,
    subject_type: str,
    subject_id: uuid.UUID,
    kind: str,
    document_id: uuid.UUID,
    expires_on: str | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {
        "subject_type": subject_type,
        "subject_id": str(subject_id),
        "kind": kind,
        "document_id": str(document_id),
    }
    if expires_on is not None:
        body["expires_on"] = expires_on
    return await client.post(f"{API}/submissions", json=body, headers=auth_headers(staff))


async def review_and_approve(client: httpx.AsyncClient, admin: User, submission_id: str) -> dict[str, Any]:
    headers = auth_headers(admin)
    reviewed = await client.post(f"{API}/submissions/{submission_id}/review", headers=headers)
    assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json()["status"] == "under_review"
    approved = await client.post(f"{API}/submissions/{submission_id}/approve", headers=headers)
    assert approved.status_code == 200, approved.text
    body: dict[str, Any] = approved.json()
    return body


async def stored(model: type, key: object) -> Any:
    async with tenant_session(SYSTEM) as session:
        return await session.get(model, key)


async def fleet_events(org_id: uuid.UUID) -> list[dict[str, Any]]:
    async with tenant_session(SYSTEM) as session:
        return [
            row.payload
            for row in await session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.topic == "fleet.changed", OutboxEvent.org_id == org_id)
                .order_by(OutboxEvent.id)
            )
        ]


async def test_org_is_verified_once_every_required_document_is_approved(client: httpx.AsyncClient) -> None:
    org = await make_org(verified=False)
    staff = await make_user("mover_admin", org)
    admin = await make_user("platform_admin")
    ids = []
    for kind in ORG_KINDS:
        created = await submit(
            client, staff, "organization", org.id, kind, await make_document(org, staff), expiry()
        )
        assert created.status_code == 201, created.text
        assert created.json()["status"] == "pending"
        ids.append(created.json()["id"])

    queue = await client.get(f"{API}/queue", params={"limit": 200}, headers=auth_headers(admin))
    assert queue.status_code == 200
    mine = [item["id"] for item in queue.json()["items"] if item["org_id"] == str(org.id)]
    assert mine == ids  # oldest first
    only_insurance = await client.get(
        f"{API}/queue",
        params={"kind": "liability_insurance", "subject_type": "organization", "limit": 200},
        headers=auth_headers(admin),
    )
    assert {item["kind"] for item in only_insurance.json()["items"]} == {"liability_insurance"}
    assert ids[1] in {item["id"] for item in only_insurance.json()["items"]}

    for submission_id in ids[:2]:
        await review_and_approve(client, admin, submission_id)
    assert (await stored(Organization, org.id)).verified is False
    assert await fleet_events(org.id) == []
    await review_and_approve(client, admin, ids[2])
    assert (await stored(Organization, org.id)).verified is True
    assert await fleet_events(org.id) == [
        {"org_id": str(org.id), "kind": "organization", "id": str(org.id), "action": "verified"}
    ]

    status = await client.get(f"{API}/status/organization/{org.id}", headers=auth_headers(staff))
    assert status.status_code == 200, status.text
    body = status.json()
    assert body["verified"] is True and body["requirements_met"] is True
    assert [(r["kind"], r["state"]) for r in body["requirements"]] == [
        (kind, "approved") for kind in ORG_KINDS
    ]
    queue_after = await client.get(f"{API}/queue", params={"limit": 200}, headers=auth_headers(admin))
    assert not set(ids) & {item["id"] for item in queue_after.json()["items"]}


async def test_state_machine_and_rejection_reason(client: httpx.AsyncClient) -> None:
    org = await make_org(verified=False)
    staff = await make_user("mover_admin", org)
    admin = await make_user("platform_admin")
    created = await submit(
        client, staff, "organization", org.id, "business_license", await make_document(org), expiry()
    )
    submission_id = created.json()["id"]
    url = f"{API}/submissions/{submission_id}"
    headers = auth_headers(admin)

    skipped = problem(await client.post(f"{url}/approve", headers=headers), 409)
    assert skipped["current"] == "pending" and skipped["allowed"] == ["superseded", "under_review"]
    assert (await client.post(f"{url}/review", headers=headers)).status_code == 200
    problem(await client.post(f"{url}/reject", json={}, headers=headers), 422)
    problem(await client.post(f"{url}/reject", json={"reason": ""}, headers=headers), 422)
    rejected = await client.post(f"{url}/reject", json={"reason": "Scan is unreadable"}, headers=headers)
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["rejection_reason"] == "Scan is unreadable"
    problem(await client.post(f"{url}/approve", headers=headers), 409)
    problem(await client.post(f"{url}/review", headers=headers), 409)
    # Staff cannot decide, whatever the submission's state.
    problem(await client.post(f"{url}/approve", headers=auth_headers(staff)), 403)
    shown = await client.get(url, headers=auth_headers(staff))
    assert shown.json()["status"] == "rejected"
    assert (await stored(Organization, org.id)).verified is False


async def test_driver_verification_and_resubmission(client: httpx.AsyncClient) -> None:
    org = await make_org()
    driver_user = await make_user("driver", org)
    driver = await make_driver(org, user=driver_user, verified=False)
    staff = await make_user("dispatcher", org)
    admin = await make_user("platform_admin")
    first = await submit(
        client, staff, "driver", driver.id, "drivers_license", await make_document(org), expiry(900)
    )
    second = await submit(
        client, staff, "driver", driver.id, "drivers_license", await make_document(org), expiry(1000)
    )
    assert second.status_code == 201
    assert (await stored(VerificationSubmission, uuid.UUID(first.json()["id"]))).status == "superseded"
    check = await submit(client, staff, "driver", driver.id, "background_check", await make_document(org))
    assert check.status_code == 201, check.text  # no expiry date needed for this kind
    await review_and_approve(client, admin, second.json()["id"])
    await review_and_approve(client, admin, check.json()["id"])
    assert (await stored(Driver, driver.id)).verified is True
    assert await fleet_events(org.id) == [
        {"org_id": str(org.id), "kind": "driver", "id": str(driver.id), "action": "verified"}
    ]
    own = await client.get(f"{API}/status/driver/{driver.id}", headers=auth_headers(driver_user, driver))
    assert own.status_code == 200 and own.json()["requirements_met"] is True
    # A renewal approved later supersedes the approved licence it replaces.
    renewal = await submit(
        client, staff, "driver", driver.id, "drivers_license", await make_document(org), expiry(1500)
    )
    await review_and_approve(client, admin, renewal.json()["id"])
    assert (await stored(VerificationSubmission, uuid.UUID(second.json()["id"]))).status == "superseded"
    assert (await stored(Driver, driver.id)).verified is True


async def test_tenants_never_see_each_others_verification(client: httpx.AsyncClient) -> None:
    org_a, org_b = await make_org(), await make_org()
    staff_a = await make_user("mover_admin", org_a)
    staff_b = await make_user("mover_admin", org_b)
    driver_a = await make_driver(org_a)
    document_a = await make_document(org_a)
    created = await submit(client, staff_a, "organization", org_a.id, "workers_comp", document_a, expiry())
    submission_url = f"{API}/submissions/{created.json()['id']}"

    for outsider in (staff_b, await make_user("customer"), await make_user("driver", org_b)):
        problem(await client.get(submission_url, headers=auth_headers(outsider)), 404)
    headers_b = auth_headers(staff_b)
    problem(await client.get(f"{API}/status/organization/{org_a.id}", headers=headers_b), 404)
    problem(await client.get(f"{API}/status/driver/{driver_a.id}", headers=headers_b), 404)
    problem(
        await submit(
            client, staff_b, "driver", driver_a.id, "drivers_license", await make_document(org_b), expiry()
        ),
        404,
    )
    problem(
        await submit(
            client, staff_b, "organization", org_a.id, "workers_comp", await make_document(org_b), expiry()
        ),
        404,
    )
    # Org B cannot attach org A's document to its own requirement.
    stolen = problem(
        await submit(client, staff_b, "organization", org_b.id, "workers_comp", document_a, expiry()), 404
    )
    assert stolen["field"] == "document_id"
    problem(await client.get(f"{API}/queue", headers=headers_b), 403)
    problem(await client.post(f"{submission_url}/review", headers=headers_b), 403)
    async with tenant_session(SYSTEM) as session:
        count = await session.scalar(
            select(func.count())
            .select_from(VerificationSubmission)
            .where(VerificationSubmission.org_id == org_b.id)
        )
    assert count == 0


async def test_bad_input_is_a_problem_and_writes_nothing(client: httpx.AsyncClient) -> None:
    org = await make_org()
    staff = await make_user("mover_admin", org)
    driver = await make_driver(org)
    document = await make_document(org)
    cases = [
        (await submit(client, staff, "driver", driver.id, "workers_comp", document, expiry()), 422),
        (
            await submit(
                client,
                staff,
                "organization",
                org.id,
                "liability_insurance",
                document,
                date.today().isoformat(),
            ),
            422,
        ),
        (await submit(client, staff, "organization", org.id, "liability_insurance", document), 422),
        (
            await submit(client, staff, "organization", org.id, "business_license", uuid.uuid4(), expiry()),
            404,
        ),
        (await submit(client, staff, "planet", org.id, "business_license", document, expiry()), 422),
        (
            await submit(client, staff, "organization", org.id, "business_license", document, "next tuesday"),
            422,
        ),
        (
            await client.post(
                f"{API}/submissions",
                content=b"{nope",
                headers={**auth_headers(staff), "content-type": "application/json"},
            ),
            422,
        ),
        (
            await client.post(
                f"{API}/submissions",
                json={
                    "subject_type": "organization",
                    "subject_id": str(org.id),
                    "kind": "workers_comp",
                    "document_id": str(document),
                    "expires_on": expiry(),
                    "status": "approved",
                },
                headers=auth_headers(staff),
            ),
            422,
        ),
    ]
    for response, status in cases:
        problem(response, status)
    problem(await client.get(f"{API}/status/truck/{org.id}", headers=auth_headers(staff)), 422)
    problem(
        await submit(
            client,
            await make_user("customer"),
            "organization",
            org.id,
            "business_license",
            document,
            expiry(),
        ),
        403,
    )
    async with tenant_session(SYSTEM) as session:
        count = await session.scalar(
            select(func.count())
            .select_from(VerificationSubmission)
            .where(VerificationSubmission.org_id == org.id)
        )
    assert count == 0


async def test_a_document_that_expired_while_waiting_cannot_be_approved() -> None:
    org = await make_org(verified=False)
    staff = caller_for(await make_user("mover_admin", org))
    admin = caller_for(await make_user("platform_admin"))
    submitted_at = datetime(2030, 3, 1, 9, tzinfo=UTC)
    async with tenant_session(staff) as session:
        created = await service.submit(
            session,
            staff,
            SubmissionCreate(
                subject_type="organization",
                subject_id=org.id,
                kind="workers_comp",
                document_id=await make_document(org),
                expires_on=date(2030, 3, 10),
            ),
            now=submitted_at,
        )
    async with tenant_session(admin) as session:
        await service.start_review(session, admin, created.id, now=submitted_at)
    with pytest.raises(Conflict):
        async with tenant_session(admin) as session:
            await service.approve(session, admin, created.id, now=submitted_at + timedelta(days=9))
    assert (await stored(VerificationSubmission, created.id)).status == "under_review"
