"""Rotating refresh tokens: one family per sign-in; replaying a rotated link kills the family."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.auth import revocation
from dispatch.auth.credentials import new_refresh_secret, secret_digest
from dispatch.auth.errors import RecordedRefusal
from dispatch.errors import Unauthorized
from persistence.config import Settings
from persistence.models import RefreshToken
from persistence.repositories.auth import RefreshTokenRepository


async def issue(
    session: AsyncSession,
    user_id: uuid.UUID,
    settings: Settings,
    family_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> str:
    """A new link (a new family unless one is given); only its digest is stored."""
    now = now or datetime.now(UTC)
    secret = new_refresh_secret()
    session.add(
        RefreshToken(
            family_id=family_id or uuid.uuid4(),
            user_id=user_id,
            token_hash=secret_digest(secret, settings.digest_secret),
            expires_at=now + timedelta(seconds=settings.refresh_token_ttl_s),
        )
    )
    await session.flush()
    return secret


async def _find(session: AsyncSession, secret: str, settings: Settings) -> RefreshToken | None:
    """The link with this secret, locked: two refreshes with one token must not both win."""
    return await RefreshTokenRepository(session).lock_by_digest(secret_digest(secret, settings.digest_secret))


async def revoke_family(session: AsyncSession, family_id: uuid.UUID, now: datetime | None = None) -> None:
    """Revoke every link; after commit the family's access tokens are refused as well."""
    await RefreshTokenRepository(session).revoke_family(family_id, now or datetime.now(UTC))
    revocation.sessions_revoked(session, [family_id])


async def rotate(
    session: AsyncSession, secret: str, settings: Settings, now: datetime | None = None
) -> RefreshToken:
    """Spend a live link (marked rotated); the caller issues its successor in the same family.

    A link that was already rotated is a replay: someone else holds a copy, so the whole
    family is revoked (and stays revoked though the request is refused).
    """
    now = now or datetime.now(UTC)
    link = await _find(session, secret, settings)
    if link is None or link.revoked_at is not None:
        raise Unauthorized("refresh token unknown or revoked", reason="refresh_invalid")
    if link.rotated_at is not None:
        await revoke_family(session, link.family_id, now)
        raise RecordedRefusal(
            "refresh token already used; every session of this sign-in is revoked, sign in again",
            reason="refresh_reused",
        )
    if link.expires_at <= now:
        raise Unauthorized("refresh token expired; sign in again", reason="refresh_expired")
    link.rotated_at = now
    await session.flush()
    return link


async def revoke(session: AsyncSession, secret: str, settings: Settings) -> None:
    """Sign out: revoke the family of this link, whatever state it is in (unknown: nothing)."""
    link = await _find(session, secret, settings)
    if link is not None:
        await revoke_family(session, link.family_id)
