"""Sign-in use cases: request a code, sign in with it, refresh, sign out, who am I.

Everything but `me` runs as the system caller: before sign-in there is no one else to be,
and only the system role may touch otp_codes and refresh_tokens.
"""

from __future__ import annotations

import uuid
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.auth import otp, refresh
from dispatch.auth.credentials import channel_of
from dispatch.auth.errors import RecordedRefusal
from dispatch.auth.schemas import OtpRequest, OtpRequested, OtpVerify, TokenPair, UserOut
from dispatch.auth.tokens import issue_access_token
from dispatch.errors import Unauthorized
from persistence.config import Settings
from persistence.models import User
from persistence.ratelimit import RateLimiter
from persistence.repositories.auth import AccountRepository
from persistence.session import Caller, Role


async def request_code(
    session: AsyncSession, limiter: RateLimiter, request: OtpRequest, client_ip: str, settings: Settings
) -> OtpRequested:
    """Send a fresh code. The answer never says whether an account exists."""
    await otp.check_request_limits(limiter, request.destination, client_ip, settings)
    await otp.issue_code(session, request.channel, request.destination, settings)
    return OtpRequested(expires_in=settings.otp_ttl_s)


async def _user_by_destination(session: AsyncSession, destination: str) -> User | None:
    accounts = AccountRepository(session)
    if channel_of(destination) == "email":
        return await accounts.lock_by_email(destination)
    return await accounts.lock_by_phone(destination)


async def driver_id_of(session: AsyncSession, user: User) -> uuid.UUID | None:
    if user.role != "driver":
        return None
    return await AccountRepository(session).driver_id_of(user.id)


def user_out(user: User, driver_id: uuid.UUID | None) -> UserOut:
    return UserOut(
        id=user.id,
        role=user.role,
        org_id=user.org_id,
        driver_id=driver_id,
        email=user.email,
        phone=user.phone,
        full_name=user.full_name,
        active=user.active,
        created_at=user.created_at,
    )


async def _token_pair(
    session: AsyncSession, user: User, settings: Settings, family_id: uuid.UUID | None = None
) -> TokenPair:
    """Tokens of one sign-in: the access token names the family (`sid`) and user version."""
    driver_id = await driver_id_of(session, user)
    caller = Caller(role=cast(Role, user.role), user_id=user.id, org_id=user.org_id, driver_id=driver_id)
    family_id = family_id or uuid.uuid4()
    return TokenPair(
        access_token=issue_access_token(caller, settings, version=user.token_version, session_id=family_id),
        expires_in=settings.access_token_ttl_s,
        refresh_token=await refresh.issue(session, user.id, settings, family_id),
        user=user_out(user, driver_id),
    )


async def sign_in(
    session: AsyncSession, limiter: RateLimiter, request: OtpVerify, settings: Settings
) -> TokenPair:
    """Check the code; find the user by email/phone or open a customer account for them."""
    await otp.accept_code(session, limiter, request.destination, request.code, settings)
    user = await _user_by_destination(session, request.destination)
    if user is None:
        contact = (
            {"email": request.destination}
            if channel_of(request.destination) == "email"
            else {"phone": request.destination}
        )
        user = User(role="customer", full_name="", **contact)
        session.add(user)
        await session.flush()
        await session.refresh(user)
    if not user.active:
        raise Unauthorized("this account is disabled", reason="account_disabled")
    return await _token_pair(session, user, settings)


async def refresh_tokens(session: AsyncSession, secret: str, settings: Settings) -> TokenPair:
    """Rotate the refresh token; the new pair belongs to the same family."""
    link = await refresh.rotate(session, secret, settings)
    user = await AccountRepository(session).get_by_id(link.user_id)
    # A link issued before the last deactivation died with it, even after reactivation.
    if (
        user is None
        or not user.active
        or (user.deactivated_at is not None and link.created_at <= user.deactivated_at)
    ):
        await refresh.revoke_family(session, link.family_id)
        raise RecordedRefusal("this account is disabled", reason="account_disabled")
    return await _token_pair(session, user, settings, link.family_id)


async def sign_out(session: AsyncSession, secret: str | None, settings: Settings) -> None:
    """Revoke the sign-in's refresh family; signing out twice is harmless."""
    if secret:
        await refresh.revoke(session, secret, settings)


async def me(session: AsyncSession, caller: Caller) -> UserOut:
    """The caller's own user row (visible to them under RLS); a disabled account is refused."""
    user = await AccountRepository(session).get_by_id(caller.user_id) if caller.user_id else None
    if user is None or not user.active:
        raise Unauthorized("this account is disabled or gone", reason="account_disabled")
    return user_out(user, caller.driver_id)
