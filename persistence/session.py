"""Database engines and the tenant-scoped session: every transaction carries its caller."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy.ext.asyncio
from sqlalchemy import ColumnElement, event, exc, func, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
)
from sqlalchemy.orm import Session, SessionTransaction

from persistence.config import get_settings, pool_budget

Role = Literal["customer", "driver", "mover_admin", "dispatcher", "platform_admin", "system"]
STAFF_ROLES: frozenset[str] = frozenset({"mover_admin", "dispatcher"})


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is acting: the row-level security policies read these four values."""

    role: Role
    user_id: uuid.UUID | None = None
    org_id: uuid.UUID | None = None
    driver_id: uuid.UUID | None = None

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def is_admin(self) -> bool:
        return self.role in ("platform_admin", "system")


SYSTEM = Caller(role="system")

_engine: AsyncEngine | None = None
_sessionmaker: async_sessionmaker[AsyncSession] | None = None
# Analytics reads (MOVEHUB_ANALYTICS_DATABASE_URL, a replica); None while it is the primary.
_analytics_engine: AsyncEngine | None = None
_analytics_sessionmaker: async_sessionmaker[AsyncSession] | None = None


def _create_engine(url: str) -> AsyncEngine:
    settings = get_settings()
    pool_size, max_overflow = pool_budget(settings)
    # Through the module: the tracing setup (persistence/telemetry.py) instruments it there.
    created = sqlalchemy.ext.asyncio.create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        # No pre-ping (a SELECT 1 round trip on every checkout): a connection the server or
        # the network closed is noticed by its socket (see _drop_closed), old ones are
        # recycled, and a connection that dies in use is invalidated (the request is a 503).
        pool_pre_ping=False,
        pool_recycle=settings.db_pool_recycle_s,
        # Bounded waits: a blackholed database fails fast (503) instead of hanging.
        pool_timeout=settings.db_pool_timeout_s,
        connect_args={"timeout": settings.db_connect_timeout_s},
    )
    event.listen(created.sync_engine, "checkout", _drop_closed)
    return created


def _drop_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """The pre-ping without a round trip: asyncpg notices a reset or closed socket while the
    connection idles in the pool, so a dead one is discarded here and the pool hands out
    another (SQLAlchemy retries the checkout on DisconnectionError)."""
    driver = getattr(dbapi_connection, "driver_connection", None)
    if driver is not None and driver.is_closed():
        raise exc.DisconnectionError("the pooled connection was closed")


def engine() -> AsyncEngine:
    """The app-role engine (subject to RLS), created once per process."""
    global _engine, _sessionmaker
    if _engine is None:
        _engine = _create_engine(get_settings().database_url)
        _sessionmaker = async_sessionmaker(_engine, expire_on_commit=False)
    return _engine


def _analytics_maker() -> async_sessionmaker[AsyncSession]:
    """The analytics engine's sessions: the replica's own pool, or the primary's."""
    global _analytics_engine, _analytics_sessionmaker
    url = get_settings().analytics_database_url
    if not url:
        engine()
        assert _sessionmaker is not None
        return _sessionmaker
    if _analytics_sessionmaker is None:
        _analytics_engine = _create_engine(url)
        _analytics_sessionmaker = async_sessionmaker(_analytics_engine, expire_on_commit=False)
    return _analytics_sessionmaker


async def dispose_analytics_engine() -> None:
    global _analytics_engine, _analytics_sessionmaker
    if _analytics_engine is not None:
        await _analytics_engine.dispose()
    _analytics_engine, _analytics_sessionmaker = None, None


async def dispose_engine() -> None:
    global _engine, _sessionmaker
    await dispose_analytics_engine()
    if _engine is not None:
        await _engine.dispose()
    _engine, _sessionmaker = None, None


_READ_ONLY = text("SET TRANSACTION READ ONLY")
_SET_CONTEXT = text(
    "SELECT set_config('app.role', :role, true), set_config('app.user_id', :user_id, true),"
    " set_config('app.org_id', :org_id, true), set_config('app.driver_id', :driver_id, true)"
)


def _context(caller: Caller) -> dict[str, str]:
    return {
        "role": caller.role,
        "user_id": str(caller.user_id or ""),
        "org_id": str(caller.org_id or ""),
        "driver_id": str(caller.driver_id or ""),
    }


async def set_caller(session: AsyncSession, caller: Caller) -> None:
    """Bind the caller to the current transaction only (set_config is_local = true)."""
    await session.execute(_SET_CONTEXT, _context(caller))


# A tenant session binds its caller when its transaction begins on a connection (the first
# statement or flush), not in a round trip of its own up front: a request that reads nothing
# checks out no connection, and a first statement that reads no table may carry the caller
# itself (caller_columns), saving the round trip.
_CALLER = "movehub.caller"
_CARRIED = "movehub.caller_carried"  # the next statement sets the caller itself
_BOUND = "movehub.caller_bound"


@event.listens_for(Session, "after_begin")
def _bind_caller(session: Session, transaction: SessionTransaction, connection: Connection) -> None:
    caller = session.info.get(_CALLER)
    if caller is None or transaction.nested:
        return
    session.info[_BOUND] = True
    if session.info.pop(_CARRIED, False):
        return
    connection.execute(_SET_CONTEXT, _context(caller))


def caller_columns(session: AsyncSession) -> list[ColumnElement[Any]]:
    """For a first statement that reads no table (the caller's settings are not yet needed):
    columns that bind the session's caller in that same statement, so the transaction does
    not spend a round trip on it. Empty when the caller is bound already or the session
    has none; the statement must be executed next on this session."""
    caller = session.info.get(_CALLER)
    if caller is None or session.info.get(_BOUND):
        return []
    session.info[_CARRIED] = True
    return [func.set_config(f"app.{name}", value, True) for name, value in _context(caller).items()]


@asynccontextmanager
async def tenant_session(caller: Caller) -> AsyncIterator[AsyncSession]:
    """One transaction as `caller`: commits on success, rolls back on any exception. The
    caller is bound as the transaction begins on its connection (see _bind_caller)."""
    engine()
    assert _sessionmaker is not None
    async with _sessionmaker(info={_CALLER: caller}) as session, session.begin():
        yield session


@asynccontextmanager
async def analytics_session(caller: Caller) -> AsyncIterator[AsyncSession]:
    """One read-only transaction as `caller` on the analytics engine (a replica when set).

    READ ONLY holds on the primary too, so a write slipped into analytics fails loudly here
    instead of only once it meets a replica.
    """
    async with _analytics_maker()() as session, session.begin():
        await session.execute(_READ_ONLY)
        await set_caller(session, caller)
        yield session
