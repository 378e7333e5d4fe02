"""Routes: support tickets of customers and movers — open, read, comment, assign, resolve
(with an optional refund), close, reopen — and the admins' dashboard figures."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import AwareDatetime

from dispatch.kit.pagination import Page, PageParams
from dispatch.support import service, stats
from dispatch.support.rules import IssueType, Priority
from dispatch.support.schemas import (
    AssignRequest,
    CommentCreate,
    CommentOut,
    PriorityChange,
    ReopenRequest,
    ResolveRequest,
    TicketCreate,
    TicketDetail,
    TicketOut,
    TicketStats,
)
from gateway.deps import CurrentCaller, MoverAdmin, PlatformAdmin, SessionDep
from persistence.statuses import TicketStatus

router = APIRouter(prefix="/support", tags=["support"])
Paging = Annotated[PageParams, Query()]


@router.post("/tickets", response_model=TicketOut, status_code=status.HTTP_201_CREATED)
async def open_ticket(caller: CurrentCaller, session: SessionDep, payload: TicketCreate) -> TicketOut:
    """A customer or mover staff opens a ticket, optionally about a booking they can see.
    Priority comes from the issue type, the booking's value and the customer's earlier
    tickets (90 days); the SLA of that priority starts now."""
    return await service.open_ticket(session, caller, payload)


@router.get("/tickets", response_model=Page[TicketOut])
async def tickets(
    caller: CurrentCaller,
    session: SessionDep,
    paging: Paging,
    status: TicketStatus | None = None,
    priority: Priority | None = None,
    issue_type: IssueType | None = None,
    assigned_to_me: bool = False,
) -> Page[TicketOut]:
    """Customers see their own tickets, mover staff their organization's, admins all."""
    return await service.list_tickets(
        session,
        caller,
        paging,
        status=status,
        priority=priority,
        issue_type=issue_type,
        assigned_to_me=assigned_to_me,
    )


@router.get("/tickets/{ticket_id}", response_model=TicketDetail)
async def ticket(_: CurrentCaller, session: SessionDep, ticket_id: uuid.UUID) -> TicketDetail:
    """The ticket with its comments (internal notes are never shown to customers)."""
    return await service.get_ticket(session, ticket_id)


@router.post("/tickets/{ticket_id}/comments", response_model=CommentOut, status_code=status.HTTP_201_CREATED)
async def comment(
    caller: CurrentCaller, session: SessionDep, ticket_id: uuid.UUID, payload: CommentCreate
) -> CommentOut:
    """Reply on a ticket; staff and admins may write internal notes."""
    return await service.add_comment(session, caller, ticket_id, payload)


@router.post("/tickets/{ticket_id}/assign", response_model=TicketOut)
async def assign(
    caller: PlatformAdmin, session: SessionDep, ticket_id: uuid.UUID, payload: AssignRequest
) -> TicketOut:
    return await service.assign(session, caller, ticket_id, payload.assignee_id)


@router.post("/tickets/{ticket_id}/resolve", response_model=TicketOut)
async def resolve(
    caller: PlatformAdmin, session: SessionDep, ticket_id: uuid.UUID, payload: ResolveRequest
) -> TicketOut:
    """Resolve with a resolution; `refund_cents` refunds that much of the booking's payment
    (written with the resolution, sent by the outbox after the commit and retried until it
    succeeds)."""
    resolution = await service.resolve(session, caller, ticket_id, payload)
    return resolution.ticket


@router.post("/tickets/{ticket_id}/close", response_model=TicketOut)
async def close(caller: CurrentCaller, session: SessionDep, ticket_id: uuid.UUID) -> TicketOut:
    """The opener or a platform admin closes the ticket."""
    return await service.close(session, caller, ticket_id)


@router.post("/tickets/{ticket_id}/reopen", response_model=TicketOut)
async def reopen(
    caller: CurrentCaller, session: SessionDep, ticket_id: uuid.UUID, payload: ReopenRequest
) -> TicketOut:
    """The opener or a platform admin reopens a resolved or closed ticket, saying why."""
    return await service.reopen(session, caller, ticket_id, payload.reason)


@router.post("/tickets/{ticket_id}/priority", response_model=TicketOut)
async def set_priority(
    caller: CurrentCaller, session: SessionDep, ticket_id: uuid.UUID, payload: PriorityChange
) -> TicketOut:
    """Staff set an open or in-progress ticket's priority by hand, saying why: platform admins
    for any ticket, a mover's admins and dispatchers for their organization's (404 for others'
    tickets, 403 for customers). The SLA deadline follows the new priority and an internal
    note records the change in the ticket's history."""
    return await service.set_priority(session, caller, ticket_id, payload)


@router.get(
    "/stats",
    response_model=TicketStats,
    responses={404: {"description": "a mover admin named another organization"}},
)
async def dashboard(
    caller: MoverAdmin,
    session: SessionDep,
    since: AwareDatetime | None = None,
    org_id: uuid.UUID | None = None,
) -> TicketStats:
    """Open tickets by priority; median first-response and resolution times (seconds) of
    tickets opened since `since`. Platform admins: the platform, or one organization with
    `org_id`; mover admins: their own organization (another's `org_id` is 404)."""
    return await stats.ticket_stats(session, since, stats.scope_of(caller, org_id))
