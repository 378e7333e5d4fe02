"""Pure rules: which channels an event goes out on for a user's stored preferences."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from dispatch.notifications.catalog import EVENTS
from dispatch.notifications.schemas import NotificationPreferences

CHANNELS: tuple[str, ...] = ("email", "sms")


def parse_preferences(stored: dict[str, Any] | None) -> NotificationPreferences:
    """Stored JSON to preferences; unreadable or empty storage means the defaults (all on)."""
    try:
        return NotificationPreferences.model_validate(stored or {})
    except ValidationError:
        return NotificationPreferences()


def channels_for(preferences: NotificationPreferences, event: str) -> tuple[str, ...]:
    """The channels the user accepts for `event`; mandatory events use every channel."""
    if EVENTS[event].mandatory:
        return CHANNELS
    choice = preferences.events.get(event)
    if choice is not None:
        return tuple(channel for channel in CHANNELS if getattr(choice, channel))
    return tuple(channel for channel in CHANNELS if getattr(preferences, channel))
