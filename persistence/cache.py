"""Redis caches that stay correct: every Redis wait is bounded (a slow or unreachable Redis
means the database answers), and organization terms sit behind a generation counter.

Organization terms (name, active/verified flags, rates, service area) are read by every quote
and booking. An edit calls `org_terms_changing` in its own transaction, before commit: that
moves the org to a new generation and marks it dirty for `org_terms_dirty_s`, during which
readers go to the database and cache nothing. A reader that loaded the old row just before
fills the old generation, which nobody reads again. After commit, the outbox's
`fleet.changed` handler calls `org_terms_changed` (again a new generation): that covers edits
made while Redis was down and the verification flag, which changes without this module.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

import orjson
import structlog
from redis.exceptions import RedisError
from sqlalchemy import LargeBinary, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.config import get_settings
from persistence.models import Organization
from persistence.redis import get_redis
from persistence.repositories.base import LonLat, geography_point

log = structlog.get_logger(__name__)
T = TypeVar("T")


_skip_until = 0.0  # monotonic: after a failure, reads leave Redis alone for a while


async def redis_call(operation: Callable[[Any], Awaitable[T]], default: T, *, always: bool = False) -> T:
    """`operation(redis)` within the cache timeout; `default` without Redis or on failure.

    After a failure, calls are skipped for `cache_redis_retry_s` (an outage costs one wait,
    not one per request), except `always` ones: invalidations are always attempted.
    """
    global _skip_until
    redis = get_redis()
    if redis is None or (not always and time.monotonic() < _skip_until):
        return default
    settings = get_settings()
    try:
        async with asyncio.timeout(settings.cache_redis_timeout_s):
            return await operation(redis)
    except (RedisError, OSError, TimeoutError) as exc:
        _skip_until = time.monotonic() + settings.cache_redis_retry_s
        log.warning("cache_redis_unavailable", error=repr(exc))
        return default


@dataclass(frozen=True, slots=True)
class OrgTerms:
    """What a quote or a booking needs of an organization (readable by every caller)."""

    id: uuid.UUID
    name: str
    active: bool
    verified: bool
    hourly_rate_cents: int
    per_km_cents: int
    minimum_charge_cents: int
    currency: str
    service_area_wkb: bytes

    def encode(self) -> bytes:
        return orjson.dumps(
            {**asdict(self), "id": str(self.id), "service_area_wkb": self.service_area_wkb.hex()}
        )

    @classmethod
    def decode(cls, raw: bytes) -> OrgTerms:
        data = orjson.loads(raw)
        return cls(
            **{
                **data,
                "id": uuid.UUID(data["id"]),
                "service_area_wkb": bytes.fromhex(data["service_area_wkb"]),
            }
        )


def _keys(org_id: uuid.UUID) -> tuple[str, str, str]:
    base = f"movehub:org:{org_id}:terms"
    return f"{base}:gen", f"{base}:dirty", f"{base}:v:"


# KEYS: generation, dirty marker. ARGV: value key prefix. -> {generation, dirty, value|nil}
_READ = """
local gen = redis.call('GET', KEYS[1]) or '0'
if redis.call('EXISTS', KEYS[2]) == 1 then return {gen, 1} end
return {gen, 0, redis.call('GET', ARGV[1] .. gen)}
"""
# KEYS: generation, dirty marker. ARGV: dirty milliseconds (0: none). -> new generation
_BUMP = """
local gen = redis.call('INCR', KEYS[1])
if tonumber(ARGV[1]) > 0 then redis.call('SET', KEYS[2], gen, 'PX', ARGV[1]) end
return gen
"""


async def _load_terms(session: AsyncSession, org_id: uuid.UUID) -> OrgTerms | None:
    row = (
        await session.execute(
            select(
                Organization.name,
                Organization.active,
                Organization.verified,
                Organization.hourly_rate_cents,
                Organization.per_km_cents,
                Organization.minimum_charge_cents,
                Organization.currency,
                func.ST_AsBinary(Organization.service_area),
            ).where(Organization.id == org_id)
        )
    ).first()
    if row is None:
        return None
    return OrgTerms(org_id, row[0], row[1], row[2], row[3], row[4], row[5], row[6], bytes(row[7]))


async def org_terms(session: AsyncSession, org_id: uuid.UUID) -> OrgTerms | None:
    """The organization's terms: from Redis when cached for the current generation, else
    from the database (and then cached, unless the org is being edited right now)."""
    gen_key, dirty_key, value_prefix = _keys(org_id)

    async def read(redis: Any) -> Any:
        return await redis.eval(_READ, 2, gen_key, dirty_key, value_prefix)

    answer = await redis_call(read, None)
    if answer is not None and len(answer) == 3 and answer[2] is not None:
        return OrgTerms.decode(answer[2])
    terms = await _load_terms(session, org_id)
    if answer is not None and int(answer[1]) == 0 and terms is not None:
        generation = answer[0].decode() if isinstance(answer[0], bytes) else str(answer[0])
        ttl_ms = get_settings().org_terms_cache_ttl_s * 1000

        async def fill(redis: Any) -> None:
            await redis.set(value_prefix + generation, terms.encode(), px=ttl_ms)

        await redis_call(fill, None)
    return terms


async def _bump(redis: Any, org_id: uuid.UUID, dirty_ms: int) -> None:
    gen_key, dirty_key, _ = _keys(org_id)
    await redis.eval(_BUMP, 2, gen_key, dirty_key, dirty_ms)


async def org_terms_changing(org_id: uuid.UUID) -> None:
    """In the editing transaction, before commit: readers go to the database until well
    after it commits. If Redis is unreachable, the outbox's after-commit bump covers it."""
    dirty_ms = get_settings().org_terms_dirty_s * 1000
    await redis_call(lambda redis: _bump(redis, org_id, dirty_ms), None, always=True)


async def org_terms_changed(org_id: uuid.UUID) -> None:
    """After a commit (the outbox's fleet.changed handler): a new generation. Raises when
    Redis is configured but fails, so the outbox retries the invalidation."""
    redis = get_redis()
    if redis is not None:
        async with asyncio.timeout(get_settings().cache_redis_timeout_s):
            await _bump(redis, org_id, 0)


async def distance_and_cover(
    session: AsyncSession, area_wkb: bytes, origin: LonLat, destination: LonLat
) -> tuple[float, bool]:
    """One query: the km between two points (WGS84 spheroid) and whether the area (cached
    WKB of an organization's service area) covers the origin, edges included."""
    pickup = geography_point(origin)
    area = func.ST_GeogFromWKB(bindparam("area", area_wkb, type_=LargeBinary))
    row = (
        await session.execute(
            select(func.ST_Distance(pickup, geography_point(destination)), func.ST_Covers(area, pickup))
        )
    ).one()
    return float(row[0] or 0) / 1000.0, bool(row[1])
