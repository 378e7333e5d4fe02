"""Sessions that end: is an access token's user (its version) and sign-in (its family) live?

The truth is PostgreSQL: users.token_version and users.active, refresh_tokens.revoked_at.
Redis holds the database's answer for every replica (one MGET per check), and each process
remembers an answer for `session_check_cache_s`. A revocation overwrites the Redis copy after
its commit and is announced: to this process's listeners at once, to the other replicas over
Redis pub/sub (gateway/realtime/sessions.py closes the sockets concerned). When Redis is slow
or gone, checks read PostgreSQL instead (bounded wait, then a short back-off), so a lost
Redis never turns a check into a failed request nor a revoked session into a live one.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any

import orjson
import structlog
from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.auth.tokens import AccessClaims
from dispatch.errors import Unauthorized
from persistence.config import Settings
from persistence.models import User
from persistence.redis import get_redis
from persistence.repositories.auth import AccountRepository, RefreshTokenRepository
from persistence.session import SYSTEM, tenant_session

log = structlog.get_logger("movehub.auth.revocation")

REDIS_PREFIX = "movehub:auth:"
CHANNEL = "movehub:auth:revoked"
USER, SESSION = "user:", "session:"
OFF = b"off"  # the user is deactivated or gone: every token of theirs is refused
LIVE, REVOKED = b"live", b"revoked"  # a sign-in (refresh family)
REDIS_BACKOFF_S = 5.0  # after a failed Redis call, checks go to PostgreSQL for this long
MGET_CHUNK = 500
DB_CHUNK = 5000
_PENDING = "movehub.revocations"
REDIS_ERRORS = (RedisError, OSError, TimeoutError)

Listener = Callable[[frozenset[str]], Awaitable[None]]


def user_key(user_id: uuid.UUID) -> str:
    return f"{USER}{user_id}"


def session_key(session_id: uuid.UUID) -> str:
    return f"{SESSION}{session_id}"


def user_state(version: int, active: bool) -> bytes:
    """What Redis and the memory hold for a user: their token version, or OFF."""
    return str(version).encode() if active else OFF


def keys_of(claims: AccessClaims) -> list[str]:
    """The states a token's life depends on: its user, and its sign-in when it names one."""
    assert claims.caller.user_id is not None  # `sub` is a required claim
    keys = [user_key(claims.caller.user_id)]
    if claims.session_id is not None:
        keys.append(session_key(claims.session_id))
    return keys


def is_live(claims: AccessClaims, states: dict[str, bytes]) -> bool:
    """A token lives while its user is active at its version and its sign-in is not revoked."""
    keys = keys_of(claims)
    user = states.get(keys[0], OFF)
    if user == OFF or int(user) > claims.version:
        return False
    return len(keys) == 1 or states.get(keys[1]) == LIVE


class _Memory:
    """Answers this process already has, each good for a second or two."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[bytes, float]] = {}

    def get(self, key: str, now: float) -> bytes | None:
        answer = self.answers.get(key)
        return answer[0] if answer is not None and answer[1] > now else None

    def put(self, values: dict[str, bytes], until: float) -> None:
        if len(self.answers) > 50_000:  # bounded: drop the expired ones first, all if need be
            now = time.monotonic()
            self.answers = {k: a for k, a in self.answers.items() if a[1] > now}
            if len(self.answers) > 50_000:
                self.answers.clear()
        for key, value in values.items():
            self.answers[key] = (value, until)

    def forget(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.answers.pop(key, None)


async def _read_database(keys: list[str]) -> dict[str, bytes]:
    """The truth for these keys; an unknown user is OFF, an unknown sign-in REVOKED."""
    users = [uuid.UUID(k[len(USER) :]) for k in keys if k.startswith(USER)]
    families = [uuid.UUID(k[len(SESSION) :]) for k in keys if k.startswith(SESSION)]
    found: dict[str, bytes] = {}
    async with tenant_session(SYSTEM) as session:
        accounts, links = AccountRepository(session), RefreshTokenRepository(session)
        for start in range(0, len(users), DB_CHUNK):  # bind parameters are limited
            rows = await accounts.session_states(users[start : start + DB_CHUNK])
            found.update({user_key(i): user_state(v, a) for i, v, a in rows})
        for start in range(0, len(families), DB_CHUNK):
            counts = await links.revoked_link_counts(families[start : start + DB_CHUNK])
            found.update({session_key(f): LIVE if revoked == 0 else REVOKED for f, revoked in counts})
    return {k: found.get(k, OFF if k.startswith(USER) else REVOKED) for k in keys}


class Revocations:
    """This process's side: the memory, the Redis back-off, the announcement listeners."""

    def __init__(self) -> None:
        self.settings: Settings | None = None  # given once by the app (configure)
        self.memory = _Memory()
        self.redis_down_until = 0.0
        self.listeners: list[Listener] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def configure(self, settings: Settings) -> None:
        """The app's settings, for the announcements made after a commit."""
        self.settings = settings

    # ---- reading -------------------------------------------------------------------------
    async def states(self, keys: list[str], settings: Settings) -> dict[str, bytes]:
        """The current state of every key: memory, else Redis, else PostgreSQL."""
        now = time.monotonic()
        states = {k: v for k in keys if (v := self.memory.get(k, now)) is not None}
        missing = [k for k in keys if k not in states]
        if not missing:
            return states
        fetched = await self._from_redis(missing, settings)
        unknown = [k for k in missing if k not in fetched]
        if unknown:
            truth = await _read_database(unknown)
            # NX: a revocation written meanwhile must win over what we read before it.
            await self._to_redis(truth, settings, only_new=True)
            fetched.update(truth)
        self.memory.put(fetched, now + settings.session_check_cache_s)
        return states | fetched

    async def check(self, claims: AccessClaims, settings: Settings) -> None:
        """Refuse (401) a token whose user was deactivated or whose sign-in was revoked."""
        if not is_live(claims, await self.states(keys_of(claims), settings)):
            raise Unauthorized(
                "session ended: the account was deactivated or this sign-in was revoked; sign in again",
                reason="session_revoked",
            )

    # ---- Redis, never waited on for long ---------------------------------------------------
    def _redis(self) -> Any:
        return None if time.monotonic() < self.redis_down_until else get_redis()

    def _redis_failed(self, exc: BaseException) -> None:
        self.redis_down_until = time.monotonic() + REDIS_BACKOFF_S
        log.warning("revocation.redis_unavailable", error=repr(exc), backoff_s=REDIS_BACKOFF_S)

    async def _from_redis(self, keys: list[str], settings: Settings) -> dict[str, bytes]:
        redis = self._redis()
        if redis is None:
            return {}
        fetched: dict[str, bytes] = {}
        try:
            for start in range(0, len(keys), MGET_CHUNK):  # a sweep asks for thousands
                chunk = keys[start : start + MGET_CHUNK]
                async with asyncio.timeout(settings.session_redis_timeout_s):
                    values = await redis.mget([REDIS_PREFIX + k for k in chunk])
                fetched.update({k: v for k, v in zip(chunk, values, strict=True) if v})
        except REDIS_ERRORS as exc:
            self._redis_failed(exc)
            return {}
        return fetched

    async def _to_redis(
        self, values: dict[str, bytes], settings: Settings, *, only_new: bool = False, announce: bool = False
    ) -> bool:
        redis = self._redis()
        if redis is None:
            return not settings.redis_url  # no Redis configured: nothing to write
        try:
            async with asyncio.timeout(settings.session_redis_timeout_s):
                pipe = redis.pipeline(transaction=False)
                for key, value in values.items():
                    pipe.set(REDIS_PREFIX + key, value, ex=settings.session_state_ttl_s, nx=only_new)
                if announce:
                    pipe.publish(CHANNEL, orjson.dumps(sorted(values)))
                await pipe.execute()
        except REDIS_ERRORS as exc:
            self._redis_failed(exc)
            return False
        return True

    # ---- revoking ------------------------------------------------------------------------
    def after_commit(self, session: AsyncSession, values: dict[str, bytes]) -> None:
        """Announce these new states once the session's transaction commits (not before:
        a rolled-back deactivation must not end anything)."""
        pending: dict[str, bytes] | None = session.info.get(_PENDING)
        if pending is None:
            pending = session.info[_PENDING] = {}
            sync = session.sync_session
            event.listen(sync, "after_commit", self._committed, once=True)
            event.listen(sync, "after_rollback", self._rolled_back, once=True)
        pending.update(values)

    def _committed(self, sync_session: Any) -> None:
        values: dict[str, bytes] = sync_session.info.pop(_PENDING, {})
        if values:
            self.memory.forget(values)
            self._spawn(self.announce(values))

    def _rolled_back(self, sync_session: Any) -> None:
        sync_session.info.pop(_PENDING, None)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def announce(self, values: dict[str, bytes]) -> None:
        """Write the new states to Redis and tell every replica, then this process's listeners.

        A failed Redis write is retried until the stale copy it would replace has expired
        by itself (session_state_ttl_s); meanwhile this process reads PostgreSQL.
        """
        settings = self.settings
        if settings is None:
            raise RuntimeError("revocations.configure(settings) was not called at start")
        written = await self._to_redis(values, settings, announce=True)
        await self.received(frozenset(values))
        deadline = time.monotonic() + settings.session_state_ttl_s
        delay = 0.5
        while not written and time.monotonic() < deadline:
            await asyncio.sleep(delay)
            delay = min(delay * 2, REDIS_BACKOFF_S)
            written = await self._to_redis(values, settings, announce=True)

    async def received(self, keys: frozenset[str]) -> None:
        """An announcement (ours, or another replica's over pub/sub): forget, tell listeners."""
        self.memory.forget(keys)
        for listener in list(self.listeners):
            try:
                await listener(keys)
            except Exception:
                log.exception("revocation.listener_failed")


revocations = Revocations()


def user_changed(session: AsyncSession, user: User) -> None:
    """After commit, every replica sees the user's new version or deactivation."""
    revocations.after_commit(session, {user_key(user.id): user_state(user.token_version, user.active)})


def sessions_revoked(session: AsyncSession, family_ids: Iterable[uuid.UUID]) -> None:
    """After commit, every replica refuses the access tokens of these sign-ins."""
    revocations.after_commit(session, {session_key(f): REVOKED for f in family_ids})
