"""People who sign in, and the secrets of signing in: OTP codes and refresh tokens."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from persistence.models.base import Base, timestamp_column, uuid_pk

USER_ROLES = ("customer", "driver", "mover_admin", "dispatcher", "platform_admin")


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"role IN {USER_ROLES}", name="role_known"),
        CheckConstraint("email IS NOT NULL OR phone IS NOT NULL", name="has_contact"),
        CheckConstraint(
            "(role IN ('mover_admin','dispatcher','driver')) = (org_id IS NOT NULL)",
            name="staff_have_org",
        ),
        CheckConstraint("token_version >= 0", name="token_version_non_negative"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    role: Mapped[str] = mapped_column(String(20))
    org_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    phone: Mapped[str | None] = mapped_column(String(32), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    # Access tokens name the version they were issued under; deactivation bumps it.
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    deactivated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    notification_preferences: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    created_at: Mapped[datetime] = timestamp_column()


class OtpCode(Base):
    """A one-time code sent to a phone or email; only its hash is kept."""

    __tablename__ = "otp_codes"

    id: Mapped[uuid.UUID] = uuid_pk()
    destination: Mapped[str] = mapped_column(String(320))
    channel: Mapped[str] = mapped_column(String(8))
    code_hash: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    consumed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = timestamp_column()


class RefreshToken(Base):
    """One link of a rotating refresh-token family; reuse of a rotated link revokes the family."""

    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = uuid_pk()
    family_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    rotated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = timestamp_column()


# The indexes the migrations create, declared here too: tests/integration/test_schema_drift.py
# holds these models and the migrated schema to the same shape.
Index("ix_otp_codes_destination", OtpCode.destination, OtpCode.created_at.desc())
