"""What `movehub seed` asks before topping up the demo city: which demo rows exist already,
and the per-organization counts it prints at the end. Run as SYSTEM (demo data spans tenants)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.models import Booking, Driver, Organization, Truck, User
from persistence.statuses import OPEN_STATUSES


class SeedRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_user(self, role: str, email: str, full_name: str) -> User:
        """A demo account created as is (the platform admin, the customers): no use case
        signs these up, they sign in by email OTP like anyone."""
        user = User(role=role, email=email, full_name=full_name)
        self.session.add(user)
        await self.session.flush()
        return user

    async def organization_by_code(self, code: str) -> Organization | None:
        """The demo mover with this code, if an earlier run created it (the seed is rerun)."""
        return await self.session.scalar(select(Organization).where(Organization.code == code))

    async def vet_drivers(self, org_id: uuid.UUID) -> None:
        """Mark every driver of the org verified: demo movers count as vetted."""
        await self.session.execute(update(Driver).where(Driver.org_id == org_id).values(verified=True))

    async def open_bookings_starting_between(
        self, org_id: uuid.UUID, after: datetime, before: datetime
    ) -> int:
        """How many open bookings of the org start strictly between the two instants: the
        seed tops the coming days up to a few, it never piles them up."""
        return int(
            await self.session.scalar(
                select(func.count())
                .select_from(Booking)
                .where(
                    Booking.org_id == org_id,
                    Booking.window_start > after,
                    Booking.window_start < before,
                    Booking.status.in_(OPEN_STATUSES),
                )
            )
            or 0
        )

    async def dispatcher_of(self, org_id: uuid.UUID) -> User | None:
        """A dispatcher of the org, who confirms some of the demo bookings."""
        return await self.session.scalar(select(User).where(User.org_id == org_id, User.role == "dispatcher"))

    async def fleet_summary(self, codes: Sequence[str]) -> list[tuple[str, str, int, int, int]]:
        """Name, code and how many drivers, trucks and bookings each of these orgs has, by
        name: the table the seed ends with."""
        rows = (
            await self.session.execute(
                select(
                    Organization.name,
                    Organization.code,
                    select(func.count())
                    .where(User.org_id == Organization.id, User.role == "driver")
                    .scalar_subquery(),
                    select(func.count()).where(Truck.org_id == Organization.id).scalar_subquery(),
                    select(func.count()).where(Booking.org_id == Organization.id).scalar_subquery(),
                )
                .where(Organization.code.in_(list(codes)))
                .order_by(Organization.name)
            )
        ).all()
        return [
            (name, code, int(drivers), int(trucks), int(bookings))
            for name, code, drivers, trucks, bookings in rows
        ]
