"""Sign-in queries: one-time codes, refresh-token links, the account a contact signs in to, and
the session states an access token's life depends on."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update

from persistence.models import Driver, OtpCode, RefreshToken, User
from persistence.repositories.base import Repository


class OtpCodeRepository(Repository[OtpCode]):
    model = OtpCode

    async def forget_codes_for(self, destination: str) -> None:
        """Drop every earlier code of a destination: only the newest one may sign in."""
        await self.session.execute(delete(OtpCode).where(OtpCode.destination == destination))

    async def lock_live_code(self, destination: str) -> OtpCode | None:
        """The destination's newest unconsumed code, locked: two checks must not both spend it."""
        statement = (
            select(OtpCode)
            .where(OtpCode.destination == destination, OtpCode.consumed_at.is_(None))
            .order_by(OtpCode.created_at.desc())
            .limit(1)
            .with_for_update()
        )
        return (await self.session.scalars(statement)).first()


class RefreshTokenRepository(Repository[RefreshToken]):
    model = RefreshToken

    async def lock_by_digest(self, token_hash: str) -> RefreshToken | None:
        """The link with this secret digest, locked: two refreshes with it must not both win."""
        statement = select(RefreshToken).where(RefreshToken.token_hash == token_hash).with_for_update()
        return (await self.session.scalars(statement)).first()

    async def revoke_family(self, family_id: uuid.UUID, now: datetime) -> None:
        """Mark every live link of a sign-in revoked (a replay or a sign-out ends them all)."""
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def revoked_link_counts(self, family_ids: Sequence[uuid.UUID]) -> list[tuple[uuid.UUID, int]]:
        """(family, revoked links) of the families that exist: any revoked link ends the sign-in."""
        rows = await self.session.execute(
            select(RefreshToken.family_id, func.count(RefreshToken.revoked_at))
            .where(RefreshToken.family_id.in_(family_ids))
            .group_by(RefreshToken.family_id)
        )
        return [(family_id, int(revoked)) for family_id, revoked in rows]


class AccountRepository(Repository[User]):
    model = User

    async def lock_by_email(self, email: str) -> User | None:
        """The user signing in with this address, locked: a parallel sign-in waits for us."""
        statement = select(User).where(func.lower(User.email) == email).with_for_update()
        return (await self.session.scalars(statement)).first()

    async def lock_by_phone(self, phone: str) -> User | None:
        """The user signing in with this phone number, locked likewise."""
        statement = select(User).where(User.phone == phone).with_for_update()
        return (await self.session.scalars(statement)).first()

    async def driver_id_of(self, user_id: uuid.UUID) -> uuid.UUID | None:
        """The driver profile behind a driver's account: tokens carry it as `drv`."""
        return await self.session.scalar(select(Driver.id).where(Driver.user_id == user_id))

    async def session_states(self, user_ids: Sequence[uuid.UUID]) -> list[tuple[uuid.UUID, int, bool]]:
        """(user, token version, active) of the users that exist: what decides a token's life."""
        rows = await self.session.execute(
            select(User.id, User.token_version, User.active).where(User.id.in_(user_ids))
        )
        return [(user_id, int(version), bool(active)) for user_id, version, active in rows]
