"""Demo-fleet queries for the driver simulator (`movehub simulate`): which organizations,
drivers and dispatchers it plays. Read across tenants, so the caller's session acts as SYSTEM."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.models import Driver, Organization, User


class SimulatorRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def organizations(self, codes: Sequence[str]) -> list[Organization]:
        """The organizations named by code, in code order (the simulator drives their fleets)."""
        statement = select(Organization).where(Organization.code.in_(codes)).order_by(Organization.code)
        return list((await self.session.scalars(statement)).all())

    async def drivers_with_accounts(self, org_id: uuid.UUID) -> list[tuple[Driver, uuid.UUID]]:
        """The org's active drivers who can sign in (driver, user id), oldest first: only
        they can open a driver socket."""
        statement = (
            select(Driver, User.id)
            .join(User, User.id == Driver.user_id)
            .where(Driver.org_id == org_id, Driver.status == "active")
            .order_by(Driver.created_at)
        )
        return [(driver, user_id) for driver, user_id in (await self.session.execute(statement))]

    async def dispatchers(self, codes: Sequence[str]) -> list[tuple[str, uuid.UUID, uuid.UUID]]:
        """(org code, user id, org id) of every dispatcher of the named organizations, whom the
        simulator impersonates to confirm and auto-assign bookings."""
        statement = (
            select(Organization.code, User.id, Organization.id)
            .join(User, User.org_id == Organization.id)
            .where(Organization.code.in_(codes), User.role == "dispatcher")
        )
        return [(code, user_id, org_id) for code, user_id, org_id in (await self.session.execute(statement))]
