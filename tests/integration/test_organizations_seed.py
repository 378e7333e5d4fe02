"""The demo seed: verified Berlin movers with fleets and bookings, and a second run adds nothing."""

from __future__ import annotations

import io

from rich.console import Console
from sqlalchemy import func, select

from gateway.seed import MOVERS, seed
from persistence.models import Booking, Driver, Organization, User
from persistence.session import SYSTEM, tenant_session

FAR_NORTH = (25.0, 70.0)  # beyond the latitudes other tests pick their remote cities from


async def test_seed_is_idempotent_and_complete(database: str) -> None:
    output = io.StringIO()
    # Far from Berlin, so the demo movers never answer other tests' Berlin availability.
    await seed(12, Console(file=output, width=120), center=FAR_NORTH)
    again = await seed(12, Console(file=io.StringIO(), width=120), center=FAR_NORTH)
    assert again.created_orgs == 0 and again.created_bookings == 0
    codes = [code for _, code, _, _ in MOVERS]
    async with tenant_session(SYSTEM) as session:
        orgs = (await session.scalars(select(Organization).where(Organization.code.in_(codes)))).all()
        assert len(orgs) == len(MOVERS) and all(org.verified for org in orgs)
        ids = [org.id for org in orgs]
        linked = await session.scalar(
            select(func.count())
            .select_from(Driver)
            .where(Driver.org_id.in_(ids), Driver.user_id.is_not(None))
        )
        assert linked == 2 * len(MOVERS)
        bookings = await session.scalar(
            select(func.count()).select_from(Booking).where(Booking.org_id.in_(ids))
        )
        assert bookings == 3 * len(MOVERS)
        for email in again.logins.values():
            assert await session.scalar(select(User).where(User.email == email)) is not None
    assert "dispatch@spree.movehub.example" in again.logins.values()
