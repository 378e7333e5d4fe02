"""Verification rules: requirements per subject, the state machine, expiry boundaries,
reminder thresholds and the aggregated status."""

from datetime import UTC, date, datetime, timedelta

import pytest

from dispatch.errors import InvalidTransition, ValidationFailed
from dispatch.verification.rules import (
    REQUIRED,
    DocumentKind,
    SubjectType,
    SubmissionFact,
    aggregate,
    check_expiry,
    check_kind_for_subject,
    check_transition,
    due_reminder,
    is_current,
)
from persistence.statuses import SubmissionStatus

TODAY = date(2026, 11, 24)
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def fact(kind: DocumentKind, status: str, expires_on: date | None = None, minutes: int = 0) -> SubmissionFact:
    return SubmissionFact(
        kind=kind.value,
        status=status,
        expires_on=expires_on,
        submission_id=f"{kind.value}-{status}-{minutes}",
        submitted_at=T0 + timedelta(minutes=minutes),
    )


def test_required_documents_per_subject() -> None:
    assert set(REQUIRED[SubjectType.ORGANIZATION]) == {
        DocumentKind.BUSINESS_LICENSE,
        DocumentKind.LIABILITY_INSURANCE,
        DocumentKind.WORKERS_COMP,
    }
    assert set(REQUIRED[SubjectType.DRIVER]) == {DocumentKind.DRIVERS_LICENSE, DocumentKind.BACKGROUND_CHECK}
    check_kind_for_subject(SubjectType.DRIVER, DocumentKind.DRIVERS_LICENSE)
    with pytest.raises(ValidationFailed):
        check_kind_for_subject(SubjectType.DRIVER, DocumentKind.WORKERS_COMP)
    with pytest.raises(ValidationFailed):
        check_kind_for_subject(SubjectType.ORGANIZATION, DocumentKind.BACKGROUND_CHECK)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("pending", SubmissionStatus.UNDER_REVIEW),
        ("under_review", SubmissionStatus.APPROVED),
        ("under_review", SubmissionStatus.REJECTED),
        ("approved", SubmissionStatus.EXPIRED),
        ("approved", SubmissionStatus.SUPERSEDED),
        ("pending", SubmissionStatus.SUPERSEDED),
    ],
)
def test_allowed_transitions(current: str, target: SubmissionStatus) -> None:
    check_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("pending", SubmissionStatus.APPROVED),
        ("pending", SubmissionStatus.REJECTED),
        ("rejected", SubmissionStatus.APPROVED),
        ("expired", SubmissionStatus.APPROVED),
        ("approved", SubmissionStatus.REJECTED),
        ("under_review", SubmissionStatus.EXPIRED),
        ("superseded", SubmissionStatus.UNDER_REVIEW),
    ],
)
def test_refused_transitions(current: str, target: SubmissionStatus) -> None:
    with pytest.raises(InvalidTransition) as refused:
        check_transition(current, target)
    assert refused.value.extra["current"] == current


def test_expiry_date_rules() -> None:
    check_expiry(DocumentKind.LIABILITY_INSURANCE, TODAY + timedelta(days=1), TODAY)
    check_expiry(DocumentKind.BACKGROUND_CHECK, None, TODAY)
    with pytest.raises(ValidationFailed):
        check_expiry(DocumentKind.LIABILITY_INSURANCE, None, TODAY)
    with pytest.raises(ValidationFailed):
        check_expiry(DocumentKind.DRIVERS_LICENSE, TODAY, TODAY)  # expires today: too late
    assert is_current("approved", TODAY + timedelta(days=1), TODAY)
    assert not is_current("approved", TODAY, TODAY)
    assert is_current("approved", None, TODAY)
    assert not is_current("under_review", None, TODAY)


@pytest.mark.parametrize(
    ("days_ahead", "threshold"),
    [
        (45, None),
        (31, None),
        (30, 30),
        (29, 30),
        (8, 30),
        (7, 7),
        (5, 7),
        (2, 7),
        (1, 1),
        (0, None),
        (-3, None),
    ],
)
def test_reminder_threshold(days_ahead: int, threshold: int | None) -> None:
    assert due_reminder(TODAY + timedelta(days=days_ahead), TODAY) == threshold


def test_no_reminder_without_an_expiry_date() -> None:
    assert due_reminder(None, TODAY) is None


def test_verified_only_when_every_requirement_is_approved_and_unexpired() -> None:
    future = TODAY + timedelta(days=100)
    facts = [
        fact(DocumentKind.BUSINESS_LICENSE, "approved", future),
        fact(DocumentKind.LIABILITY_INSURANCE, "approved", future),
    ]
    partial = aggregate(SubjectType.ORGANIZATION, facts, TODAY)
    assert not partial.verified
    assert [r.state for r in partial.requirements] == ["approved", "approved", "missing"]
    complete = aggregate(
        SubjectType.ORGANIZATION, [*facts, fact(DocumentKind.WORKERS_COMP, "approved", future)], TODAY
    )
    assert complete.verified
    # The day a document's date comes, the subject is no longer verified (even before the job).
    assert not aggregate(
        SubjectType.ORGANIZATION, [*facts, fact(DocumentKind.WORKERS_COMP, "approved", TODAY)], TODAY
    ).verified


def test_the_best_submission_describes_a_requirement() -> None:
    future = TODAY + timedelta(days=100)
    status = aggregate(
        SubjectType.DRIVER,
        [
            fact(DocumentKind.DRIVERS_LICENSE, "rejected", future, minutes=1),
            fact(DocumentKind.DRIVERS_LICENSE, "approved", future, minutes=0),
            fact(DocumentKind.DRIVERS_LICENSE, "pending", future, minutes=2),
            fact(DocumentKind.BACKGROUND_CHECK, "expired", TODAY, minutes=0),
            fact(DocumentKind.BACKGROUND_CHECK, "rejected", None, minutes=1),
            fact(DocumentKind.BACKGROUND_CHECK, "superseded", None, minutes=2),
        ],
        TODAY,
    )
    by_kind = {r.kind: r for r in status.requirements}
    assert by_kind[DocumentKind.DRIVERS_LICENSE].state == "approved"
    assert by_kind[DocumentKind.BACKGROUND_CHECK].state == "rejected"
    assert not status.verified
    newer = aggregate(
        SubjectType.DRIVER,
        [
            fact(DocumentKind.BACKGROUND_CHECK, "approved", None, minutes=0),
            fact(DocumentKind.BACKGROUND_CHECK, "approved", None, minutes=5),
            fact(DocumentKind.DRIVERS_LICENSE, "approved", future),
        ],
        TODAY,
    )
    assert newer.verified
    assert {r.kind: r for r in newer.requirements}[
        DocumentKind.BACKGROUND_CHECK
    ].submission_id == "background_check-approved-5"
