"""One-time sign-in codes: issue (superseding older ones), check with a try budget, rate limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.auth.credentials import Channel, digest_matches, new_otp_code, secret_digest
from dispatch.auth.errors import RecordedRefusal
from dispatch.errors import RateLimited, Unauthorized
from persistence.config import Settings
from persistence.models import OtpCode
from persistence.outbox import enqueue
from persistence.ratelimit import RateLimiter
from persistence.repositories.auth import OtpCodeRepository

HOUR_S = 3600.0


def _limit_key(kind: str, subject: str, settings: Settings) -> str:
    # Keyed digest: Redis never holds a phone number, address or IP in the clear.
    return f"otp:{kind}:{secret_digest(subject, settings.digest_secret)[:32]}"


async def _within(limiter: RateLimiter, key: str, limit: int, what: str) -> None:
    allowance = await limiter.hit(key, limit, HOUR_S)
    if not allowance.allowed:
        raise RateLimited(
            f"too many {what}; try again in {allowance.retry_after_s} s", retry_after=allowance.retry_after_s
        )


async def check_request_limits(
    limiter: RateLimiter, destination: str, client_ip: str, settings: Settings
) -> None:
    """Code requests per client IP and per destination, each per rolling hour."""
    await _within(
        limiter,
        _limit_key("ip", client_ip, settings),
        settings.otp_ip_requests_per_hour,
        "code requests from this address",
    )
    await _within(
        limiter,
        _limit_key("dest", destination, settings),
        settings.otp_requests_per_hour,
        "code requests for this destination",
    )


async def issue_code(
    session: AsyncSession, channel: Channel, destination: str, settings: Settings, now: datetime | None = None
) -> None:
    """Replace any earlier code for the destination and queue the new one for delivery."""
    now = now or datetime.now(UTC)
    code = new_otp_code()
    await OtpCodeRepository(session).forget_codes_for(destination)
    row = OtpCode(
        destination=destination,
        channel=channel,
        code_hash=secret_digest(code, settings.digest_secret),
        expires_at=now + timedelta(seconds=settings.otp_ttl_s),
    )
    session.add(row)
    await session.flush()
    await enqueue(
        session,
        "notify.otp",
        {"channel": channel, "destination": destination, "code": code},
        idempotency_key=f"notify.otp:{row.id}",
        aggregate_id=str(row.id),
    )


def _failures_key(destination: str, settings: Settings) -> str:
    return _limit_key("fail", destination, settings)


async def accept_code(
    session: AsyncSession,
    limiter: RateLimiter,
    destination: str,
    code: str,
    settings: Settings,
    now: datetime | None = None,
) -> OtpCode:
    """The destination's live code if `code` matches it; consumes it. Any miss is refused.

    A wrong code spends one of the code's tries (kept even though the request fails) and
    counts against the account's hourly failure budget; past that budget even the right
    code is refused with 429.
    """
    now = now or datetime.now(UTC)
    failures_key = _failures_key(destination, settings)
    budget = await limiter.peek(failures_key, settings.otp_failures_per_account_hour, HOUR_S)
    if not budget.allowed:
        raise RateLimited(
            f"too many failed sign-ins; try again in {budget.retry_after_s} s",
            retry_after=budget.retry_after_s,
        )
    row = await OtpCodeRepository(session).lock_live_code(destination)
    if row is None or row.expires_at <= now:
        await limiter.hit(failures_key, settings.otp_failures_per_account_hour, HOUR_S)
        raise Unauthorized("code expired or never requested; request a new one", reason="code_expired")
    if row.attempts >= settings.otp_max_attempts:
        await limiter.hit(failures_key, settings.otp_failures_per_account_hour, HOUR_S)
        raise Unauthorized("too many wrong tries for this code; request a new one", reason="code_locked")
    if not digest_matches(code, row.code_hash, settings.digest_secret):
        row.attempts += 1
        await session.flush()
        await limiter.hit(failures_key, settings.otp_failures_per_account_hour, HOUR_S)
        raise RecordedRefusal(
            "wrong code", reason="code_wrong", attempts_left=max(0, settings.otp_max_attempts - row.attempts)
        )
    row.consumed_at = now
    await session.flush()
    return row
