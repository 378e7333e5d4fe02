"""Verification as pure rules: documents each subject needs, the submission state machine,
the aggregated status of a subject, and when an expiry reminder is due.

Dates are calendar dates in UTC. A document `expires_on` a date is valid before that date and
expired from it on, so "days left" is `expires_on - today` and a document expires at 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Final

from dispatch.errors import InvalidTransition, ValidationFailed
from persistence.statuses import SubmissionStatus


class SubjectType(StrEnum):
    ORGANIZATION = "organization"
    DRIVER = "driver"


class DocumentKind(StrEnum):
    BUSINESS_LICENSE = "business_license"
    LIABILITY_INSURANCE = "liability_insurance"
    WORKERS_COMP = "workers_comp"
    DRIVERS_LICENSE = "drivers_license"
    BACKGROUND_CHECK = "background_check"


REQUIRED: Final[Mapping[SubjectType, tuple[DocumentKind, ...]]] = {
    SubjectType.ORGANIZATION: (
        DocumentKind.BUSINESS_LICENSE,
        DocumentKind.LIABILITY_INSURANCE,
        DocumentKind.WORKERS_COMP,
    ),
    SubjectType.DRIVER: (DocumentKind.DRIVERS_LICENSE, DocumentKind.BACKGROUND_CHECK),
}

LABELS: Final[Mapping[DocumentKind, str]] = {
    DocumentKind.BUSINESS_LICENSE: "business license",
    DocumentKind.LIABILITY_INSURANCE: "liability insurance",
    DocumentKind.WORKERS_COMP: "workers' compensation insurance",
    DocumentKind.DRIVERS_LICENSE: "driver's license",
    DocumentKind.BACKGROUND_CHECK: "background check",
}

# A background check is a finding at a point in time; everything else carries an end date.
EXPIRY_OPTIONAL: Final[frozenset[DocumentKind]] = frozenset({DocumentKind.BACKGROUND_CHECK})

TRANSITIONS: Final[Mapping[SubmissionStatus, frozenset[SubmissionStatus]]] = {
    SubmissionStatus.PENDING: frozenset({SubmissionStatus.UNDER_REVIEW, SubmissionStatus.SUPERSEDED}),
    SubmissionStatus.UNDER_REVIEW: frozenset(
        {SubmissionStatus.APPROVED, SubmissionStatus.REJECTED, SubmissionStatus.SUPERSEDED}
    ),
    SubmissionStatus.APPROVED: frozenset({SubmissionStatus.EXPIRED, SubmissionStatus.SUPERSEDED}),
    SubmissionStatus.REJECTED: frozenset(),
    SubmissionStatus.EXPIRED: frozenset(),
    SubmissionStatus.SUPERSEDED: frozenset(),
}

OPEN_STATUSES: Final[frozenset[SubmissionStatus]] = frozenset(
    {SubmissionStatus.PENDING, SubmissionStatus.UNDER_REVIEW}
)

# Days ahead of expiry at which the subject's organization is reminded, most notice first.
REMINDER_DAYS: Final[tuple[int, ...]] = (30, 7, 1)


def check_transition(current: str, target: SubmissionStatus) -> None:
    """Raise InvalidTransition unless `current -> target` is an edge of the state machine."""
    allowed = TRANSITIONS.get(SubmissionStatus(current), frozenset())
    if target not in allowed:
        raise InvalidTransition(
            f"a {current} submission cannot become {target.value}",
            current=current,
            target=target.value,
            allowed=sorted(status.value for status in allowed),
        )


def check_kind_for_subject(subject_type: SubjectType, kind: DocumentKind) -> None:
    if kind not in REQUIRED[subject_type]:
        raise ValidationFailed(
            f"a {subject_type.value} is not verified with a {kind.value}",
            field="kind",
            accepted=[k.value for k in REQUIRED[subject_type]],
        )


def check_expiry(kind: DocumentKind, expires_on: date | None, today: date) -> None:
    """A submitted document must still be valid tomorrow; only some kinds may omit the date."""
    if expires_on is None:
        if kind not in EXPIRY_OPTIONAL:
            raise ValidationFailed(f"a {kind.value} needs its expiry date", field="expires_on")
        return
    if expires_on <= today:
        raise ValidationFailed(
            "the document has already expired",
            field="expires_on",
            expires_on=expires_on.isoformat(),
            today=today.isoformat(),
        )


def is_current(status: str, expires_on: date | None, today: date) -> bool:
    """Approved and not yet expired on `today`."""
    return status == SubmissionStatus.APPROVED and (expires_on is None or expires_on > today)


def is_due_to_expire(expires_on: date | None, today: date) -> bool:
    return expires_on is not None and expires_on <= today


def days_left(expires_on: date, today: date) -> int:
    return (expires_on - today).days


def due_reminder(
    expires_on: date | None, today: date, thresholds: Iterable[int] = REMINDER_DAYS
) -> int | None:
    """The reminder threshold (in days) due today: the tightest one the document is inside.

    A job that missed the 30-day mark and runs 5 days ahead sends only the 7-day reminder, not
    both; each threshold is sent at most once (the caller keys the outbox event by it).
    """
    if expires_on is None:
        return None
    left = days_left(expires_on, today)
    if left <= 0:
        return None
    inside = [days for days in thresholds if left <= days]
    return min(inside) if inside else None


@dataclass(frozen=True, slots=True)
class SubmissionFact:
    """What aggregation needs to know about one submission."""

    kind: str
    status: str
    expires_on: date | None
    submission_id: str
    submitted_at: datetime


@dataclass(frozen=True, slots=True)
class Requirement:
    kind: DocumentKind
    state: str  # approved | pending | under_review | rejected | expired | missing
    expires_on: date | None
    submission_id: str | None


@dataclass(frozen=True, slots=True)
class SubjectStatus:
    verified: bool
    requirements: tuple[Requirement, ...]


# How well a submission answers its requirement; the best one describes the requirement.
_RANK: Final[Mapping[str, int]] = {
    "approved": 5,
    "under_review": 4,
    "pending": 3,
    "rejected": 2,
    "expired": 1,
}


def _state(fact: SubmissionFact, today: date) -> str:
    if fact.status == SubmissionStatus.APPROVED and not is_current(fact.status, fact.expires_on, today):
        return "expired"  # approved, but the expiry job has not run since the date passed
    return fact.status


def aggregate(subject_type: SubjectType, facts: Iterable[SubmissionFact], today: date) -> SubjectStatus:
    """Verified only when every required kind has an approved, unexpired submission."""
    best: dict[str, tuple[int, datetime, SubmissionFact, str]] = {}
    for fact in facts:
        state = _state(fact, today)
        rank = _RANK.get(state)
        if rank is None:
            continue  # superseded submissions say nothing about the subject any more
        current = best.get(fact.kind)
        if current is None or (rank, fact.submitted_at) > current[:2]:
            best[fact.kind] = (rank, fact.submitted_at, fact, state)
    requirements = []
    for kind in REQUIRED[subject_type]:
        found = best.get(kind.value)
        if found is None:
            requirements.append(Requirement(kind, "missing", None, None))
        else:
            _, _, fact, state = found
            requirements.append(Requirement(kind, state, fact.expires_on, fact.submission_id))
    verified = all(r.state == "approved" for r in requirements)
    return SubjectStatus(verified=verified, requirements=tuple(requirements))
