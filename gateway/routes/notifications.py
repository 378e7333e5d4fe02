"""Routes: the signed-in user's notification channel preferences."""

from __future__ import annotations

from fastapi import APIRouter

from dispatch.notifications import service
from dispatch.notifications.schemas import NotificationPreferences
from gateway.deps import CurrentCaller, SessionDep

router = APIRouter(prefix="/me/notification-preferences", tags=["notifications"])


@router.get("", response_model=NotificationPreferences)
async def read_preferences(caller: CurrentCaller, session: SessionDep) -> NotificationPreferences:
    """Which channels reach you, by default and per event."""
    return await service.get_preferences(session, caller)


@router.put("", response_model=NotificationPreferences)
async def replace_preferences(
    caller: CurrentCaller, session: SessionDep, body: NotificationPreferences
) -> NotificationPreferences:
    """Replace your channel preferences (sign-in codes are always delivered)."""
    return await service.update_preferences(session, caller, body)
