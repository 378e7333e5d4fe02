"""Support tickets as pure rules: priority from the facts of an issue, the SLA of each
priority, escalation when it passes, the status workflow and what counts as a first response.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from dispatch.errors import InvalidTransition
from persistence.statuses import TicketStatus


class IssueType(StrEnum):
    DAMAGE = "damage"
    LATE_ARRIVAL = "late_arrival"
    NO_SHOW = "no_show"
    BILLING = "billing"
    OTHER = "other"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


LEVELS: Final[tuple[Priority, ...]] = (Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT)

# Damaged goods and a crew that never came hurt most; lateness and billing come next.
BASE_PRIORITY: Final[Mapping[IssueType, Priority]] = {
    IssueType.DAMAGE: Priority.HIGH,
    IssueType.NO_SHOW: Priority.HIGH,
    IssueType.LATE_ARRIVAL: Priority.NORMAL,
    IssueType.BILLING: Priority.NORMAL,
    IssueType.OTHER: Priority.LOW,
}
HIGH_VALUE_CENTS: Final[int] = 150_000  # a booking worth this much or more raises one level
REPEAT_WINDOW: Final[timedelta] = timedelta(days=90)
REPEAT_THRESHOLD: Final[int] = 2  # earlier tickets of the customer in the window that raise one

# Time to resolution per priority; when it passes the ticket escalates.
SLA: Final[Mapping[Priority, timedelta]] = {
    Priority.URGENT: timedelta(hours=4),
    Priority.HIGH: timedelta(hours=24),
    Priority.NORMAL: timedelta(hours=72),
    Priority.LOW: timedelta(hours=120),
}

ACTIVE_STATUSES: Final[frozenset[TicketStatus]] = frozenset({TicketStatus.OPEN, TicketStatus.IN_PROGRESS})

TRANSITIONS: Final[Mapping[TicketStatus, frozenset[TicketStatus]]] = {
    TicketStatus.OPEN: frozenset({TicketStatus.IN_PROGRESS, TicketStatus.RESOLVED, TicketStatus.CLOSED}),
    TicketStatus.IN_PROGRESS: frozenset({TicketStatus.OPEN, TicketStatus.RESOLVED, TicketStatus.CLOSED}),
    TicketStatus.RESOLVED: frozenset({TicketStatus.CLOSED, TicketStatus.OPEN}),
    TicketStatus.CLOSED: frozenset({TicketStatus.OPEN}),
}


@dataclass(frozen=True, slots=True)
class PriorityFacts:
    issue_type: IssueType
    booking_value_cents: int | None
    earlier_tickets_90d: int


@dataclass(frozen=True, slots=True)
class PriorityDecision:
    priority: Priority
    reasons: tuple[str, ...]


def raise_level(priority: Priority, steps: int = 1) -> Priority:
    """`steps` levels up, never past urgent."""
    return LEVELS[min(len(LEVELS) - 1, LEVELS.index(priority) + steps)]


def priority_for(facts: PriorityFacts) -> PriorityDecision:
    """The issue type sets the base; a high-value booking and a repeat customer raise it."""
    priority = BASE_PRIORITY[facts.issue_type]
    reasons = [f"{facts.issue_type.value} starts at {priority.value}"]
    if facts.booking_value_cents is not None and facts.booking_value_cents >= HIGH_VALUE_CENTS:
        priority = raise_level(priority)
        reasons.append(f"booking worth {facts.booking_value_cents} cents")
    if facts.earlier_tickets_90d >= REPEAT_THRESHOLD:
        priority = raise_level(priority)
        reasons.append(f"{facts.earlier_tickets_90d} earlier tickets in 90 days")
    return PriorityDecision(priority, tuple(reasons))


def sla_due(priority: Priority, since: datetime) -> datetime:
    return since + SLA[priority]


def reprioritized_due(sla_due_at: datetime, old: Priority, new: Priority) -> datetime:
    """The deadline after staff change the priority by hand: the running SLA period (it began
    at opening, the last reopen or the last escalation) measured with the new priority's SLA.
    A raise can put the deadline in the past: the next escalation pass then takes it."""
    return sla_due_at - SLA[old] + SLA[new]


def is_overdue(status: str, sla_due_at: datetime, now: datetime) -> bool:
    return status in ACTIVE_STATUSES and sla_due_at <= now


@dataclass(frozen=True, slots=True)
class Escalation:
    priority: Priority
    sla_due_at: datetime
    level: int


def escalate(priority: Priority, level: int, now: datetime) -> Escalation:
    """One level up with a fresh SLA from now; an urgent ticket stays urgent but still counts
    a new escalation level, so it is re-announced every time its SLA passes again."""
    raised = raise_level(priority)
    return Escalation(raised, sla_due(raised, now), level + 1)


def check_transition(current: str, target: TicketStatus) -> None:
    allowed = TRANSITIONS.get(TicketStatus(current), frozenset())
    if target not in allowed:
        raise InvalidTransition(
            f"a {current} ticket cannot become {target.value}",
            current=current,
            target=target.value,
            allowed=sorted(status.value for status in allowed),
        )


def is_first_response(opener_role: str, author_role: str, internal: bool) -> bool:
    """A reply the opener can read, from the other side: platform support, or the mover
    answering a customer. Internal notes and the opener's own side never count."""
    if internal:
        return False
    if author_role == "platform_admin":
        return True
    return opener_role == "customer" and author_role in ("mover_admin", "dispatcher")


def on_opener_side(opener_role: str, customer_id: object, caller_role: str, caller_user_id: object) -> bool:
    """May this caller close or reopen the ticket as its opener? The customer of a customer's
    ticket; any staff of the mover for a mover's ticket (they only see their own org's)."""
    if opener_role == "customer":
        return caller_role == "customer" and caller_user_id == customer_id
    return caller_role in ("mover_admin", "dispatcher")
