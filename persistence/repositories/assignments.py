"""Assignment queries: who holds a crew when, the per-org assigner lock, and crew release."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute

from persistence.models import Booking, BookingAssignment
from persistence.repositories.base import Repository
from persistence.statuses import BookingStatus

# The exclusion constraints that refuse a driver or truck booked twice at once.
OVERLAP_CONSTRAINTS = ("ex_assignments_driver_overlap", "ex_assignments_truck_overlap")


class AssignmentRepository(Repository[BookingAssignment]):
    model = BookingAssignment

    async def lock_org_assigner(self, org_id: uuid.UUID) -> None:
        """Queue this transaction behind any other assigner of the org (advisory lock held
        until commit): concurrent inserts checked by the same exclusion constraint can
        deadlock each other, while other orgs proceed in parallel."""
        await self.session.execute(
            select(func.pg_advisory_xact_lock(func.hashtextextended(f"assign:{org_id}", 0)))
        )

    async def add_unless_overlapping(self, assignment: BookingAssignment) -> bool:
        """Insert in a savepoint; False when the exclusion constraints refuse it (the driver or
        truck is already held for an overlapping window), so the caller tries the next pair."""
        try:
            async with self.session.begin_nested():
                self.session.add(assignment)
                await self.session.flush()
        except IntegrityError as exc:
            if any(name in str(exc.orig) for name in OVERLAP_CONSTRAINTS):
                return False
            raise
        return True

    async def first_clash(
        self,
        resource: InstrumentedAttribute[uuid.UUID],
        resource_id: uuid.UUID,
        start: datetime,
        end: datetime,
    ) -> uuid.UUID | None:
        """A booking whose active assignment holds this driver or truck (`resource` is the
        column) during [start, end): the one to name when a manual assignment is refused."""
        return await self.session.scalar(
            select(BookingAssignment.booking_id)
            .where(
                BookingAssignment.active,
                resource == resource_id,
                BookingAssignment.window.overlaps(func.tstzrange(start, end)),
            )
            .limit(1)
        )

    async def lock_plannable(
        self, org_id: uuid.UUID, not_before: datetime, before: datetime
    ) -> list[Booking]:
        """The org's confirmed bookings without an active assignment starting in
        [not_before, before), earliest first, row-locked: the jobs a day plan assigns."""
        return list(
            await self.session.scalars(
                select(Booking)
                .outerjoin(
                    BookingAssignment,
                    and_(BookingAssignment.booking_id == Booking.id, BookingAssignment.active),
                )
                .where(
                    Booking.org_id == org_id,
                    Booking.status == BookingStatus.CONFIRMED,
                    Booking.window_start >= not_before,
                    Booking.window_start < before,
                    BookingAssignment.id.is_(None),
                )
                .order_by(Booking.window_start)
                .with_for_update(of=Booking)
            )
        )

    async def lock_active(self, booking_id: uuid.UUID) -> BookingAssignment | None:
        """The booking's active assignment, row-locked for this transaction (None if none)."""
        return await self.session.scalar(
            select(BookingAssignment)
            .where(BookingAssignment.booking_id == booking_id, BookingAssignment.active)
            .with_for_update()
        )

    async def replace_unless_overlapping(
        self, current: BookingAssignment, assignment: BookingAssignment
    ) -> bool:
        """Deactivate `current` and insert `assignment` in one savepoint; False (and nothing
        changed: `current` still active) when the exclusion constraints refuse the new one."""
        try:
            async with self.session.begin_nested():
                await self.session.execute(
                    update(BookingAssignment)
                    .where(BookingAssignment.id == current.id)
                    .values(active=False, released_at=func.now())
                    .execution_options(synchronize_session=False)
                )
                self.session.add(assignment)
                await self.session.flush()
        except IntegrityError as exc:
            if any(name in str(exc.orig) for name in OVERLAP_CONSTRAINTS):
                return False
            raise
        await self.session.refresh(current)
        return True

    async def release_active(self, booking_id: uuid.UUID) -> None:
        """End the booking's active assignment now: the crew is free for other work."""
        await self.session.execute(
            update(BookingAssignment)
            .where(BookingAssignment.booking_id == booking_id, BookingAssignment.active)
            .values(active=False, released_at=func.now())
        )

    async def end_active_window_now(self, booking_id: uuid.UUID) -> None:
        """Cut the active assignment's window at now (empty when the job was done before its
        window began): the assignment stays as the record of who did the job, but the
        exclusion constraints and the shards' busy windows let the crew take the next one."""
        held: Any = BookingAssignment.window
        await self.session.execute(
            update(BookingAssignment)
            .where(BookingAssignment.booking_id == booking_id, BookingAssignment.active)
            .values(
                window=func.tstzrange(
                    func.lower(held),
                    func.greatest(func.lower(held), func.least(func.upper(held), func.now())),
                )
            )
        )
