"""What the readiness probe asks the database: whether it answers at all."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_ROUND_TRIP = text("SELECT 1")


async def round_trip(connection: AsyncConnection) -> None:
    """One `SELECT 1` on a pooled connection: no tenant, no table, no transaction to set up,
    so a failure means PostgreSQL (or the pool) is away, not that a row is missing."""
    await connection.execute(_ROUND_TRIP)
