"""Use cases: read and change the signed-in user's notification preferences."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.errors import NotFound
from dispatch.notifications.preferences import parse_preferences
from dispatch.notifications.schemas import NotificationPreferences
from persistence.models import User
from persistence.repositories.users import UserRepository
from persistence.session import Caller


async def _own_user(session: AsyncSession, caller: Caller) -> User:
    user = None
    if caller.user_id is not None:
        user = await UserRepository(session).get_by_id(caller.user_id)
    if user is None:
        raise NotFound("no user account behind this token")
    return user


async def get_preferences(session: AsyncSession, caller: Caller) -> NotificationPreferences:
    return parse_preferences((await _own_user(session, caller)).notification_preferences)


async def update_preferences(
    session: AsyncSession, caller: Caller, preferences: NotificationPreferences
) -> NotificationPreferences:
    user = await _own_user(session, caller)
    user.notification_preferences = preferences.model_dump(mode="json")
    await session.flush()
    return preferences
