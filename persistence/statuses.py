"""Status vocabularies: the one place each status of a booking, a refund, a verification
submission, an invoice and a support ticket is spelled.

Everything else derives from `BookingStatus`: the Pydantic `Literal`s at the edges, the ORM's
CHECK constraint, the realtime queries, and the pages (which read it from the API). The state
machine's moves live in `dispatch/lifecycle/rules.py`; this module only names the statuses and
the groups several layers ask about.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class BookingStatus(StrEnum):
    """A booking's status, in lifecycle order."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    ASSIGNED = "assigned"
    EN_ROUTE = "en_route"
    ARRIVED = "arrived"
    LOADING = "loading"
    IN_TRANSIT = "in_transit"
    UNLOADING = "unloading"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"
    DISPUTED = "disputed"


S = BookingStatus

# Every status, in lifecycle order (what a CHECK constraint or a select list needs).
BOOKING_STATUSES: Final[tuple[str, ...]] = tuple(status.value for status in BookingStatus)

# Statuses a driver moves a job through, in order (the driver socket's `status` frames).
DRIVER_JOB_STATUSES: Final[tuple[BookingStatus, ...]] = (
    S.EN_ROUTE,
    S.ARRIVED,
    S.LOADING,
    S.IN_TRANSIT,
    S.UNLOADING,
    S.COMPLETED,
)
# The crew is on the job: driving to it, at it, or carrying the load.
IN_PROGRESS_STATUSES: Final[tuple[BookingStatus, ...]] = (
    S.EN_ROUTE,
    S.ARRIVED,
    S.LOADING,
    S.IN_TRANSIT,
    S.UNLOADING,
)
# A crew and truck are held for the booking (assigned and not yet finished).
ACTIVE_JOB_STATUSES: Final[tuple[BookingStatus, ...]] = (S.ASSIGNED, *IN_PROGRESS_STATUSES)
# Still to be carried out: booked but not finished, cancelled or disputed.
OPEN_STATUSES: Final[tuple[BookingStatus, ...]] = (S.PENDING, S.CONFIRMED, *ACTIVE_JOB_STATUSES)
# Moving to one of these frees the job's driver and truck (called off, unassigned, no-show).
RELEASING_STATUSES: Final[frozenset[BookingStatus]] = frozenset({S.CANCELLED, S.CONFIRMED, S.NO_SHOW})
# Nothing more happens to the job on the road.
FINISHED_STATUSES: Final[tuple[BookingStatus, ...]] = (
    S.COMPLETED,
    S.CANCELLED,
    S.NO_SHOW,
    S.DISPUTED,
)


class SubmissionStatus(StrEnum):
    """A verification submission's status (the review rules are dispatch/verification/rules.py)."""

    PENDING = "pending"
    UNDER_REVIEW = "under_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    # Replaced by a newer submission of the same kind (a correction or an approved renewal).
    SUPERSEDED = "superseded"


class InvoiceStatus(StrEnum):
    """An invoice's status (its moves are dispatch/invoices/rules.py)."""

    DRAFT = "draft"
    ISSUED = "issued"
    PAID = "paid"
    OVERDUE = "overdue"
    VOID = "void"


class TicketStatus(StrEnum):
    """A support ticket's status (its moves are dispatch/support/rules.py)."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"


class RefundStatus(StrEnum):
    """A refund's business state; its delivery is the outbox's `refund.send` (dispatch/refunds)."""

    PENDING = "pending"  # written, not yet answered by the provider
    SENDING = "sending"  # the provider accepted it and has not settled it yet
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # an attempt failed; the outbox tries again
    DEAD = "dead"  # the outbox gave up: a human must look at it


class OnlinePaymentStatus(StrEnum):
    """A PaymentIntent started for an invoice (dispatch/invoices/online.py)."""

    REQUIRES_PAYMENT = "requires_payment"  # started; the customer has not paid yet
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"  # the provider says paid; what was owed is on the invoice
    FAILED = "failed"
    # The balance changed before it was paid (a payment recorded by hand): a new intent asks
    # for the rest. Paid anyway, it still counts (and any excess raises an alert).
    SUPERSEDED = "superseded"
