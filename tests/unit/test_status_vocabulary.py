"""Every spelling of the booking statuses derives from persistence/statuses.py: the ORM's CHECK
(against the one migration 0001 wrote), the API's schemas and the driver socket's frames."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import pytest
from pydantic import ValidationError
from sqlalchemy import CheckConstraint

from dispatch.bookings.schemas import BookingOut
from gateway.realtime.messages import DRIVER_FRAMES, DriverJobStatus
from persistence.models import (
    Booking,
    Invoice,
    InvoiceOnlinePayment,
    Refund,
    SupportTicket,
    VerificationSubmission,
)
from persistence.statuses import (
    BOOKING_STATUSES,
    DRIVER_JOB_STATUSES,
    BookingStatus,
    InvoiceStatus,
    OnlinePaymentStatus,
    RefundStatus,
    SubmissionStatus,
    TicketStatus,
)

VERSIONS = Path(__file__).parents[2] / "persistence/migrations/versions"
MIGRATION = VERSIONS / "0001_foundation.py"


def _quoted(sql: str) -> list[str]:
    return re.findall(r"'(\w+)'", sql)


def test_the_orm_check_lists_what_migration_0001_wrote() -> None:
    written = re.search(
        r"ck_bookings_status_known CHECK \(status IN \((.*?)\)\)", MIGRATION.read_text(), re.S
    )
    assert written is not None
    check = next(
        c
        for c in Booking.__table__.constraints
        if isinstance(c, CheckConstraint) and str(c.name).endswith("status_known")
    )
    assert _quoted(written.group(1)) == _quoted(str(check.sqltext)) == list(BOOKING_STATUSES)


@pytest.mark.parametrize(
    ("model", "vocabulary"),
    [
        (Booking, BookingStatus),
        (Refund, RefundStatus),
        (Invoice, InvoiceStatus),
        (VerificationSubmission, SubmissionStatus),
        (SupportTicket, TicketStatus),
        (InvoiceOnlinePayment, OnlinePaymentStatus),
    ],
)
def test_each_status_check_lists_its_vocabulary_as_the_migrations_wrote_it(
    model: type, vocabulary: type
) -> None:
    table = model.__table__.name  # type: ignore[attr-defined]
    pattern = rf"ck_{table}_status_known\s+CHECK\s*\(status IN\s*\((.*?)\)\)"
    written = [
        m.group(1) for f in sorted(VERSIONS.glob("*.py")) if (m := re.search(pattern, f.read_text(), re.S))
    ]
    check = next(
        c
        for c in model.__table__.constraints  # type: ignore[attr-defined]
        if isinstance(c, CheckConstraint) and str(c.name).endswith("status_known")
    )
    assert len(written) == 1, f"{table}: {len(written)} migrations write its status CHECK"
    assert _quoted(written[0]) == _quoted(str(check.sqltext)) == [s.value for s in vocabulary]


def test_api_schemas_list_the_statuses() -> None:
    schema = BookingOut.model_json_schema()
    assert schema["$defs"]["BookingStatus"]["enum"] == list(BOOKING_STATUSES)


def test_driver_frames_take_exactly_the_driver_job_statuses() -> None:
    assert get_args(DriverJobStatus) == tuple(status.value for status in DRIVER_JOB_STATUSES)
    frame = {"type": "status", "booking_id": "7d4c9a5e-8f1e-4f7b-9a43-0c2d3f7f0a11", "ref": "r1"}
    for status in BookingStatus:
        if status in DRIVER_JOB_STATUSES:
            assert DRIVER_FRAMES.validate_python({**frame, "status": status.value})
        else:
            with pytest.raises(ValidationError):
                DRIVER_FRAMES.validate_python({**frame, "status": status.value})
