"""Routes: verification documents of organizations and drivers, the admin review queue, and
the aggregated status that decides whether dispatch may use them."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status

from dispatch.kit.pagination import Page, PageParams
from dispatch.verification import service
from dispatch.verification.rules import DocumentKind, SubjectType
from dispatch.verification.schemas import (
    RejectRequest,
    SubjectStatusOut,
    SubmissionCreate,
    SubmissionOut,
)
from gateway.deps import CurrentCaller, PlatformAdmin, SessionDep, StaffCaller
from persistence.statuses import SubmissionStatus

router = APIRouter(prefix="/verification", tags=["verification"])
Paging = Annotated[PageParams, Query()]
QueueStatus = Literal["pending", "under_review"]


@router.post("/submissions", response_model=SubmissionOut, status_code=status.HTTP_201_CREATED)
async def submit(caller: StaffCaller, session: SessionDep, payload: SubmissionCreate) -> SubmissionOut:
    """Mover staff submit an uploaded document for their organization or one of their drivers
    (organizations: business_license, liability_insurance, workers_comp; drivers:
    drivers_license, background_check). An open submission of the same requirement is
    superseded."""
    return await service.submit(session, caller, payload)


@router.get("/submissions/{submission_id}", response_model=SubmissionOut)
async def submission(_: CurrentCaller, session: SessionDep, submission_id: uuid.UUID) -> SubmissionOut:
    return await service.get_submission(session, submission_id)


@router.get("/queue", response_model=Page[SubmissionOut])
async def queue(
    _: PlatformAdmin,
    session: SessionDep,
    paging: Paging,
    kind: DocumentKind | None = None,
    subject_type: SubjectType | None = None,
    status: QueueStatus | None = None,
) -> Page[SubmissionOut]:
    """Platform admins: submissions waiting for a decision, oldest first."""
    return await service.review_queue(
        session,
        paging,
        kind=kind,
        subject_type=subject_type,
        status=SubmissionStatus(status) if status else None,
    )


@router.post("/submissions/{submission_id}/review", response_model=SubmissionOut)
async def review(caller: PlatformAdmin, session: SessionDep, submission_id: uuid.UUID) -> SubmissionOut:
    """Take a pending submission into review (pending -> under_review)."""
    return await service.start_review(session, caller, submission_id)


@router.post("/submissions/{submission_id}/approve", response_model=SubmissionOut)
async def approve(caller: PlatformAdmin, session: SessionDep, submission_id: uuid.UUID) -> SubmissionOut:
    """Approve a reviewed submission; the subject becomes verified when every required
    document is approved and unexpired (dispatch then offers and assigns it)."""
    return await service.approve(session, caller, submission_id)


@router.post("/submissions/{submission_id}/reject", response_model=SubmissionOut)
async def reject(
    caller: PlatformAdmin, session: SessionDep, submission_id: uuid.UUID, payload: RejectRequest
) -> SubmissionOut:
    """Reject a reviewed submission, with the reason the mover will read."""
    return await service.reject(session, caller, submission_id, payload.reason)


@router.get("/status/{subject_type}/{subject_id}", response_model=SubjectStatusOut)
async def subject_status(
    caller: CurrentCaller, session: SessionDep, subject_type: SubjectType, subject_id: uuid.UUID
) -> SubjectStatusOut:
    """Each requirement's state and whether the organization or driver is verified."""
    return await service.subject_status(session, caller, subject_type, subject_id)
