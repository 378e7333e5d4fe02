"""Database engines and the tenant-scoped session: every transaction carries its caller."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from persistence.config import get_settings

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
    return create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=True,
        # Bounded waits: a blackholed database fails fast (503) instead of hanging.
        pool_timeout=settings.db_pool_timeout_s,
        connect_args={"timeout": settings.db_connect_timeout_s},
    )


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


async def set_caller(session: AsyncSession, caller: Caller) -> None:
    """Bind the caller to the current transaction only (set_config is_local = true)."""
    await session.execute(
        _SET_CONTEXT,
        {
            "role": caller.role,
            "user_id": str(caller.user_id or ""),
            "org_id": str(caller.org_id or ""),
            "driver_id": str(caller.driver_id or ""),
        },
    )


@asynccontextmanager
async def tenant_session(caller: Caller) -> AsyncIterator[AsyncSession]:
    """One transaction as `caller`: commits on success, rolls back on any exception."""
    engine()
    assert _sessionmaker is not None
    async with _sessionmaker() as session, session.begin():
        await set_caller(session, caller)
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
