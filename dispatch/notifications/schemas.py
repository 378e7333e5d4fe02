"""Pydantic I/O of notifications: a user's channel preferences."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from dispatch.notifications.catalog import EVENTS


class ChannelChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: StrictBool = True  # strict: 0/1 or "yes" is a client bug, not a choice
    sms: StrictBool = True


class NotificationPreferences(BaseModel):
    """Which channels reach this user: a default per channel, optionally overridden per event.

    Sign-in codes (otp) always go to the channel the user asked for and cannot be switched off.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "email": True,
                    "sms": False,
                    "events": {
                        "booking_reminder": {"email": True, "sms": True},
                        "invoice_delivery": {"email": True, "sms": False},
                    },
                }
            ]
        },
    )

    email: StrictBool = True
    sms: StrictBool = True
    events: dict[str, ChannelChoice] = Field(default_factory=dict)

    @field_validator("events")
    @classmethod
    def _known_events(cls, events: dict[str, ChannelChoice]) -> dict[str, ChannelChoice]:
        unknown = sorted(name for name in events if name not in EVENTS or EVENTS[name].mandatory)
        if unknown:
            choices = sorted(name for name, spec in EVENTS.items() if not spec.mandatory)
            raise ValueError(f"unknown or mandatory events {unknown}; choose from {choices}")
        return events
