"""Use cases for accounts: deactivate (the user's sessions end within seconds), reactivate.

Reactivation lets the user sign in again; nothing issued before the deactivation lives again.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.auth import revocation
from dispatch.auth.schemas import UserOut
from dispatch.auth.service import driver_id_of, user_out
from dispatch.errors import Conflict, NotFound
from persistence.models import User
from persistence.repositories.users import UserRepository
from persistence.session import Caller

# A mover admin manages the accounts of their own organization's staff and drivers.
MANAGED_BY_MOVER_ADMIN = frozenset({"mover_admin", "dispatcher", "driver"})


def may_manage(caller: Caller, user: User) -> bool:
    if caller.is_admin:
        return True
    return (
        caller.role == "mover_admin"
        and user.org_id is not None
        and user.org_id == caller.org_id
        and user.role in MANAGED_BY_MOVER_ADMIN
    )


async def _managed_user(session: AsyncSession, caller: Caller, user_id: uuid.UUID) -> User:
    """The user, locked, if the caller manages them; anyone else's is 404 (never 403)."""
    user = await UserRepository(session).lock_by_id(user_id)
    if user is None or not may_manage(caller, user):
        raise NotFound("no such user", user_id=str(user_id))
    return user


async def end_sessions(session: AsyncSession, user: User) -> None:
    """Deactivate the account: its access tokens, sign-ins and sockets end after commit."""
    if not user.active:
        return
    user.active = False
    user.token_version += 1
    user.deactivated_at = datetime.now(UTC)
    await session.flush()
    revocation.user_changed(session, user)


async def deactivate(session: AsyncSession, caller: Caller, user_id: uuid.UUID) -> UserOut:
    user = await _managed_user(session, caller, user_id)
    if user.id == caller.user_id:
        raise Conflict("you cannot deactivate your own account")
    await end_sessions(session, user)
    return user_out(user, await driver_id_of(session, user))


async def reactivate(session: AsyncSession, caller: Caller, user_id: uuid.UUID) -> UserOut:
    """Sign-in works again; nothing issued before the deactivation comes back to life."""
    user = await _managed_user(session, caller, user_id)
    if not user.active:
        user.active = True
        await session.flush()
        revocation.user_changed(session, user)
    return user_out(user, await driver_id_of(session, user))
