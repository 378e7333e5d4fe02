"""Use cases of support tickets: open (with automatic priority and SLA), read, comment,
assign to a platform admin, resolve (optionally refunding through the refund system), close
and reopen. Who sees which ticket is row-level security's job (persistence/models/support.py);
the checks here are about who may do what with a ticket they can see.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.errors import Conflict, Forbidden, NotFound, ValidationFailed
from dispatch.kit.pagination import Page, PageParams
from dispatch.refunds.rules import ReasonCode
from dispatch.refunds.service import issue_refund
from dispatch.support import messaging, rules
from dispatch.support.rules import IssueType, Priority, PriorityFacts
from dispatch.support.schemas import (
    CommentCreate,
    CommentOut,
    PriorityChange,
    ResolveRequest,
    TicketCreate,
    TicketDetail,
    TicketOut,
)
from persistence.models.support import SupportComment, SupportTicket
from persistence.repositories.bookings import BookingRepository
from persistence.repositories.support import SupportTicketRepository
from persistence.repositories.users import UserRepository
from persistence.session import Caller
from persistence.statuses import TicketStatus

OPENER_ROLES = frozenset({"customer", "mover_admin", "dispatcher"})
PRIORITY_SETTERS = frozenset({"platform_admin", "mover_admin", "dispatcher"})
REASONS_SEPARATOR = "; "


def ticket_out(ticket: SupportTicket) -> TicketOut:
    fields = {name: getattr(ticket, name) for name in TicketOut.model_fields if name != "priority_reasons"}
    reasons = [r for r in ticket.priority_reasons.split(REASONS_SEPARATOR) if r]
    return TicketOut.model_validate({**fields, "priority_reasons": reasons})


async def _earlier_tickets(session: AsyncSession, customer_id: uuid.UUID, now: datetime) -> int:
    return await SupportTicketRepository(session).opened_by_customer_since(
        customer_id, now - rules.REPEAT_WINDOW
    )


async def open_ticket(
    session: AsyncSession, caller: Caller, request: TicketCreate, now: datetime | None = None
) -> TicketOut:
    """A customer or mover opens a ticket; its priority comes from the rules."""
    now = now or datetime.now(UTC)
    if caller.role not in OPENER_ROLES or caller.user_id is None:
        raise Forbidden("support tickets are opened by customers and mover staff")
    booking = None
    if request.booking_id is not None:
        booking = await BookingRepository(session).get_by_id(request.booking_id)  # RLS
        if booking is None or (caller.role == "customer" and booking.customer_id != caller.user_id):
            raise NotFound("no such booking", field="booking_id")
    is_customer = caller.role == "customer"
    earlier = await _earlier_tickets(session, caller.user_id, now) if is_customer else 0
    decision = rules.priority_for(
        PriorityFacts(
            issue_type=request.issue_type,
            booking_value_cents=booking.price_cents if booking else None,
            earlier_tickets_90d=earlier,
        )
    )
    ticket = SupportTicket(
        org_id=booking.org_id if booking else (None if is_customer else caller.org_id),
        customer_id=caller.user_id if is_customer else None,
        opened_by=caller.user_id,
        opened_by_role=caller.role,
        booking_id=booking.id if booking else None,
        issue_type=request.issue_type.value,
        subject=request.subject,
        description=request.description,
        priority=decision.priority.value,
        priority_reasons=REASONS_SEPARATOR.join(decision.reasons),
        status=TicketStatus.OPEN.value,
        sla_due_at=rules.sla_due(decision.priority, now),
        created_at=now,
        updated_at=now,
    )
    session.add(ticket)
    await session.flush()
    await session.refresh(ticket, ["number"])
    await messaging.notify(
        session,
        ticket,
        [caller.user_id],
        "open",
        event="opened",
        message="We received your ticket and will get back to you.",
    )
    return ticket_out(ticket)


async def _ticket(session: AsyncSession, ticket_id: uuid.UUID, *, lock: bool = False) -> SupportTicket:
    ticket = await SupportTicketRepository(session).find(ticket_id, lock=lock)
    if ticket is None:
        raise NotFound("no such support ticket")
    return ticket


async def get_ticket(session: AsyncSession, ticket_id: uuid.UUID) -> TicketDetail:
    """The ticket and its comments as far as the caller may see them (RLS hides internal
    notes from customers in the database itself)."""
    ticket = await _ticket(session, ticket_id)
    comments = await SupportTicketRepository(session).comments(ticket.id)
    return TicketDetail(
        **ticket_out(ticket).model_dump(), comments=[CommentOut.model_validate(c) for c in comments]
    )


async def list_tickets(
    session: AsyncSession,
    caller: Caller,
    params: PageParams,
    *,
    status: TicketStatus | None = None,
    priority: Priority | None = None,
    issue_type: IssueType | None = None,
    assigned_to_me: bool = False,
) -> Page[TicketOut]:
    """Tickets the caller can see, most urgent deadline first among the open ones."""
    tickets = SupportTicketRepository(session)
    statement = tickets.listing(
        status=status.value if status else None,
        priority=priority.value if priority else None,
        issue_type=issue_type.value if issue_type else None,
        assignee_id=caller.user_id if assigned_to_me else None,
    )
    rows, total = await tickets.page(statement, limit=params.limit, offset=params.offset)
    return Page.of([ticket_out(row) for row in rows], total, params)


async def add_comment(
    session: AsyncSession,
    caller: Caller,
    ticket_id: uuid.UUID,
    request: CommentCreate,
    now: datetime | None = None,
) -> CommentOut:
    now = now or datetime.now(UTC)
    ticket = await _ticket(session, ticket_id, lock=True)
    if caller.user_id is None:
        raise Forbidden("comments need a signed-in user")
    if request.internal and caller.role == "customer":
        raise Forbidden("customers cannot write internal notes")
    if ticket.status == TicketStatus.CLOSED:
        raise Conflict("the ticket is closed; reopen it to add to it", status=ticket.status)
    comment = SupportComment(
        ticket_id=ticket.id,
        org_id=ticket.org_id,
        author_id=caller.user_id,
        author_role=caller.role,
        body=request.body,
        internal=request.internal,
        created_at=now,
    )
    session.add(comment)
    if ticket.first_response_at is None and rules.is_first_response(
        ticket.opened_by_role, caller.role, request.internal
    ):
        ticket.first_response_at = now
    ticket.updated_at = now
    await session.flush()
    if not request.internal:
        recipients = (
            messaging.support_side(ticket) if caller.user_id == ticket.opened_by else [ticket.opened_by]
        )
        await messaging.notify(
            session,
            ticket,
            [r for r in recipients if r != caller.user_id],
            "updated",
            event=f"comment:{comment.id}",
            message=request.body,
        )
    return CommentOut.model_validate(comment)


async def assign(
    session: AsyncSession,
    caller: Caller,
    ticket_id: uuid.UUID,
    assignee_id: uuid.UUID,
    now: datetime | None = None,
) -> TicketOut:
    """A platform admin hands the ticket to a platform admin; an open ticket is now in progress."""
    now = now or datetime.now(UTC)
    assignee = await UserRepository(session).get_by_id(assignee_id)
    if assignee is None or assignee.role != "platform_admin" or not assignee.active:
        raise ValidationFailed("the assignee must be an active platform admin", field="assignee_id")
    ticket = await _ticket(session, ticket_id, lock=True)
    if ticket.status not in rules.ACTIVE_STATUSES:
        raise Conflict(f"a {ticket.status} ticket is not assigned; reopen it first", status=ticket.status)
    ticket.assignee_id, ticket.updated_at = assignee.id, now
    if ticket.status == TicketStatus.OPEN:
        ticket.status = TicketStatus.IN_PROGRESS.value
    await session.flush()
    await messaging.notify(
        session,
        ticket,
        [ticket.opened_by],
        ticket.status,
        event=f"assigned:v{ticket.version}",
        message="A support agent is working on your ticket.",
    )
    if assignee.id != caller.user_id:
        await messaging.notify(
            session,
            ticket,
            [assignee.id],
            ticket.status,
            event=f"assigned:v{ticket.version}",
            message="This ticket is now assigned to you.",
        )
    return ticket_out(ticket)


@dataclass(frozen=True, slots=True)
class Resolution:
    ticket: TicketOut
    refund_id: uuid.UUID | None


async def resolve(
    session: AsyncSession,
    caller: Caller,
    ticket_id: uuid.UUID,
    request: ResolveRequest,
    now: datetime | None = None,
) -> Resolution:
    """Resolve with a resolution text; a refund, if asked, is written in the same transaction
    (so a refused refund leaves the ticket as it was) and sent after the commit."""
    now = now or datetime.now(UTC)
    ticket = await _ticket(session, ticket_id, lock=True)
    rules.check_transition(ticket.status, TicketStatus.RESOLVED)
    refund_id = None
    if request.refund_cents is not None:
        if ticket.booking_id is None:
            raise ValidationFailed("only a ticket about a booking can refund it", field="refund_cents")
        refund = await issue_refund(
            session,
            ticket.booking_id,
            request.refund_cents,
            ReasonCode.SUPPORT_RESOLUTION,
            request.refund_note or f"{ticket.reference}: {ticket.subject}",
            caller,
        )
        refund_id = ticket.refund_id = refund.id
    ticket.status, ticket.resolution = TicketStatus.RESOLVED.value, request.resolution
    ticket.resolved_at, ticket.resolved_by, ticket.updated_at = now, caller.user_id, now
    await session.flush()
    await messaging.notify(
        session,
        ticket,
        [ticket.opened_by],
        ticket.status,
        event=f"resolved:v{ticket.version}",
        message=request.resolution,
    )
    return Resolution(ticket_out(ticket), refund_id)


def _check_opener_or_admin(caller: Caller, ticket: SupportTicket, action: str) -> None:
    if not caller.is_admin and not rules.on_opener_side(
        ticket.opened_by_role, ticket.customer_id, caller.role, caller.user_id
    ):
        raise Forbidden(f"only the ticket's opener or a platform admin can {action} it")


async def close(
    session: AsyncSession, caller: Caller, ticket_id: uuid.UUID, now: datetime | None = None
) -> TicketOut:
    now = now or datetime.now(UTC)
    ticket = await _ticket(session, ticket_id, lock=True)
    _check_opener_or_admin(caller, ticket, "close")
    rules.check_transition(ticket.status, TicketStatus.CLOSED)
    ticket.status, ticket.closed_at, ticket.updated_at = TicketStatus.CLOSED.value, now, now
    await session.flush()
    recipients = [ticket.opened_by, *messaging.support_side(ticket)]
    await messaging.notify(
        session,
        ticket,
        [r for r in recipients if r != caller.user_id],
        ticket.status,
        event=f"closed:v{ticket.version}",
    )
    return ticket_out(ticket)


async def reopen(
    session: AsyncSession, caller: Caller, ticket_id: uuid.UUID, reason: str, now: datetime | None = None
) -> TicketOut:
    """Back to open with a fresh SLA; the reason becomes a comment the opener can read."""
    now = now or datetime.now(UTC)
    ticket = await _ticket(session, ticket_id, lock=True)
    _check_opener_or_admin(caller, ticket, "reopen")
    rules.check_transition(ticket.status, TicketStatus.OPEN)
    assert caller.user_id is not None
    ticket.status, ticket.resolved_at, ticket.closed_at = TicketStatus.OPEN.value, None, None
    ticket.resolution, ticket.resolved_by = "", None
    ticket.sla_due_at = rules.sla_due(Priority(ticket.priority), now)
    ticket.updated_at = now
    session.add(
        SupportComment(
            ticket_id=ticket.id,
            org_id=ticket.org_id,
            author_id=caller.user_id,
            author_role=caller.role,
            body=f"Reopened: {reason}",
            internal=False,
            created_at=now,
        )
    )
    await session.flush()
    recipients = [ticket.opened_by, *messaging.support_side(ticket)]
    await messaging.notify(
        session,
        ticket,
        [r for r in recipients if r != caller.user_id],
        ticket.status,
        event=f"reopened:v{ticket.version}",
        message=reason,
    )
    return ticket_out(ticket)


async def set_priority(
    session: AsyncSession,
    caller: Caller,
    ticket_id: uuid.UUID,
    request: PriorityChange,
    now: datetime | None = None,
) -> TicketOut:
    """Staff (platform admins; a mover's staff for their organization's tickets, the only ones
    they see) set an active ticket's priority by hand. The SLA deadline follows the new
    priority, the reason joins the priority reasons, and an internal note keeps the change in
    the ticket's history (who, from what, to what, why). The same priority again changes
    nothing."""
    now = now or datetime.now(UTC)
    ticket = await _ticket(session, ticket_id, lock=True)
    if caller.role not in PRIORITY_SETTERS or caller.user_id is None:
        raise Forbidden("only support staff set a ticket's priority")
    if ticket.status not in rules.ACTIVE_STATUSES:
        raise Conflict(
            f"a {ticket.status} ticket has no priority to change; reopen it first", status=ticket.status
        )
    old = Priority(ticket.priority)
    if request.priority == old:
        return ticket_out(ticket)
    ticket.sla_due_at = rules.reprioritized_due(ticket.sla_due_at, old, request.priority)
    ticket.priority = request.priority.value
    change = f"set from {old.value} to {request.priority.value} by {caller.role}: {request.reason}"
    ticket.priority_reasons = REASONS_SEPARATOR.join(
        [r for r in ticket.priority_reasons.split(REASONS_SEPARATOR) if r] + [change]
    )
    ticket.updated_at = now
    session.add(
        SupportComment(
            ticket_id=ticket.id,
            org_id=ticket.org_id,
            author_id=caller.user_id,
            author_role=caller.role,
            body=f"Priority {change}",
            internal=True,
            created_at=now,
        )
    )
    await session.flush()
    return ticket_out(ticket)
