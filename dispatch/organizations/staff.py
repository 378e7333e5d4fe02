"""Use case: a mover admin adds a dispatcher or a driver who signs in by email or phone OTP."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.fleet import drivers
from dispatch.fleet.schemas import DriverCreate
from dispatch.kit.geo import point_of
from dispatch.organizations.schemas import StaffInvite, StaffMember
from dispatch.organizations.service import editable
from persistence.models import User
from persistence.session import Caller


async def invite(
    session: AsyncSession, caller: Caller, org_id: uuid.UUID, invitation: StaffInvite
) -> StaffMember:
    """Create the staff account (a driver also gets a driver profile); an email or phone that
    already has an account is a 409 (accounts are never moved between organizations here).
    """
    org = await editable(session, caller, org_id)
    user = User(
        role=invitation.role,
        org_id=org.id,
        email=invitation.email,
        phone=invitation.phone,
        full_name=invitation.full_name,
    )
    session.add(user)
    await session.flush()
    driver_id = None
    if invitation.role == "driver":
        driver = await drivers.hire(
            session,
            caller,
            DriverCreate(
                full_name=invitation.full_name,
                phone=invitation.phone,
                skills=invitation.skills,
                home_base=invitation.home_base or point_of(org.base_location),
                user_id=user.id,
                org_id=org.id if caller.is_admin else None,
            ),
        )
        driver_id = driver.id
    return StaffMember(
        user_id=user.id,
        role=user.role,
        email=user.email,
        phone=user.phone,
        full_name=user.full_name,
        driver_id=driver_id,
    )
