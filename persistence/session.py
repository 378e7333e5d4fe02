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


def engine() -> AsyncEngine:
    """The app-role engine (subject to RLS), created once per process."""
    global _engine, _sessionmaker
    if _engine is None:
        settings = get_settings()
        _engine = create_async_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_pre_ping=True,
            # Bounded waits: a blackholed database fails fast (503) instead of hanging.
            pool_timeout=settings.db_pool_timeout_s,
            connect_args={"timeout": settings.db_connect_timeout_s},
        )
        _sessionmaker = async_sessionmaker(_engine, expire_on_commit=False)
    return _engine


async def dispose_engine() -> None:
    global _engine, _sessionmaker
    if _engine is not None:
        await _engine.dispose()
    _engine, _sessionmaker = None, None


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
