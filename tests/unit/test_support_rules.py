"""Support rules: priority from type, booking value and repeat issues; SLA and escalation;
the ticket workflow; first responses; who acts as the opener."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from dispatch.errors import InvalidTransition
from dispatch.support.rules import (
    HIGH_VALUE_CENTS,
    SLA,
    IssueType,
    Priority,
    PriorityFacts,
    TicketStatus,
    check_transition,
    escalate,
    is_first_response,
    is_overdue,
    on_opener_side,
    priority_for,
    reprioritized_due,
    sla_due,
)

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("issue", "value", "earlier", "expected"),
    [
        (IssueType.OTHER, None, 0, Priority.LOW),
        (IssueType.BILLING, 30_000, 0, Priority.NORMAL),
        (IssueType.LATE_ARRIVAL, HIGH_VALUE_CENTS - 1, 1, Priority.NORMAL),
        (IssueType.LATE_ARRIVAL, HIGH_VALUE_CENTS, 0, Priority.HIGH),
        (IssueType.DAMAGE, 30_000, 0, Priority.HIGH),
        (IssueType.NO_SHOW, None, 0, Priority.HIGH),
        (IssueType.DAMAGE, HIGH_VALUE_CENTS, 0, Priority.URGENT),
        (IssueType.OTHER, None, 2, Priority.NORMAL),
        (IssueType.OTHER, HIGH_VALUE_CENTS, 5, Priority.HIGH),
        (IssueType.DAMAGE, HIGH_VALUE_CENTS * 3, 9, Priority.URGENT),  # capped at urgent
    ],
)
def test_priority(issue: IssueType, value: int | None, earlier: int, expected: Priority) -> None:
    decision = priority_for(PriorityFacts(issue, value, earlier))
    assert decision.priority is expected
    assert decision.reasons[0].startswith(issue.value)


def test_sla_is_shorter_for_higher_priorities() -> None:
    hours = [SLA[p] for p in (Priority.URGENT, Priority.HIGH, Priority.NORMAL, Priority.LOW)]
    assert hours == sorted(hours)
    assert sla_due(Priority.URGENT, NOW) == NOW + timedelta(hours=4)


def test_overdue_exactly_at_the_deadline_and_only_while_active() -> None:
    due = NOW
    assert not is_overdue("open", due, NOW - timedelta(seconds=1))
    assert is_overdue("open", due, NOW)
    assert is_overdue("in_progress", due, NOW + timedelta(hours=1))
    assert not is_overdue("resolved", due, NOW + timedelta(days=9))
    assert not is_overdue("closed", due, NOW + timedelta(days=9))


def test_escalation_raises_one_level_and_restarts_the_sla() -> None:
    first = escalate(Priority.NORMAL, 0, NOW)
    assert (first.priority, first.level, first.sla_due_at) == (Priority.HIGH, 1, NOW + SLA[Priority.HIGH])
    top = escalate(Priority.URGENT, 3, NOW)
    assert (top.priority, top.level, top.sla_due_at) == (Priority.URGENT, 4, NOW + SLA[Priority.URGENT])


@pytest.mark.parametrize(
    ("current", "target", "ok"),
    [
        ("open", TicketStatus.IN_PROGRESS, True),
        ("open", TicketStatus.RESOLVED, True),
        ("in_progress", TicketStatus.RESOLVED, True),
        ("resolved", TicketStatus.CLOSED, True),
        ("resolved", TicketStatus.OPEN, True),
        ("closed", TicketStatus.OPEN, True),
        ("closed", TicketStatus.RESOLVED, False),
        ("resolved", TicketStatus.RESOLVED, False),
        ("open", TicketStatus.OPEN, False),
        ("closed", TicketStatus.IN_PROGRESS, False),
    ],
)
def test_workflow(current: str, target: TicketStatus, ok: bool) -> None:
    if ok:
        check_transition(current, target)
    else:
        with pytest.raises(InvalidTransition):
            check_transition(current, target)


def test_first_response() -> None:
    assert is_first_response("customer", "platform_admin", internal=False)
    assert is_first_response("customer", "mover_admin", internal=False)
    assert is_first_response("mover_admin", "platform_admin", internal=False)
    assert not is_first_response("mover_admin", "dispatcher", internal=False)
    assert not is_first_response("customer", "customer", internal=False)
    assert not is_first_response("customer", "platform_admin", internal=True)


def test_opener_side() -> None:
    customer = uuid.uuid4()
    assert on_opener_side("customer", customer, "customer", customer)
    assert not on_opener_side("customer", customer, "customer", uuid.uuid4())
    assert not on_opener_side("customer", customer, "mover_admin", uuid.uuid4())
    assert on_opener_side("dispatcher", None, "mover_admin", uuid.uuid4())
    assert not on_opener_side("dispatcher", None, "customer", uuid.uuid4())


def test_a_priority_set_by_hand_measures_the_running_sla_period_anew() -> None:
    opened = datetime(2026, 11, 24, 9, tzinfo=UTC)
    due = sla_due(Priority.NORMAL, opened)  # 72 h
    assert reprioritized_due(due, Priority.NORMAL, Priority.URGENT) == opened + SLA[Priority.URGENT]
    assert reprioritized_due(due, Priority.NORMAL, Priority.LOW) == opened + timedelta(hours=120)
    # After an escalation the period began at the escalation: it is measured from there.
    escalated = escalate(Priority.NORMAL, 0, opened + timedelta(hours=80))
    assert reprioritized_due(escalated.sla_due_at, escalated.priority, Priority.URGENT) == (
        opened + timedelta(hours=84)
    )
