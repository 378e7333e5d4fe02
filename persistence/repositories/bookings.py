"""Booking queries: the caller's visible bookings, filtered by status and window; and the
writes of a new booking, in as few round trips as the row-level security allows."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import LargeBinary, Select, Table, bindparam, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.models import Booking, BookingStatusHistory
from persistence.outbox import outbox_row
from persistence.repositories.base import LonLat, Repository, geography_point
from persistence.session import caller_columns


async def measure_move(
    session: AsyncSession, area_wkb: bytes, origin: LonLat, destination: LonLat
) -> tuple[float, bool]:
    """One query: the km between two points (WGS84 spheroid) and whether the area (the cached
    WKB of an organization's service area) covers the origin, edges included. It reads no
    table, so when it is the transaction's first statement it also binds the caller
    (caller_columns): no round trip of its own for that."""
    pickup = geography_point(origin)
    area = func.ST_GeogFromWKB(bindparam("area", area_wkb, type_=LargeBinary))
    row = (
        await session.execute(
            select(
                func.ST_Distance(pickup, geography_point(destination)),
                func.ST_Covers(area, pickup),
                *caller_columns(session),
            )
        )
    ).one()
    return float(row[0] or 0) / 1000.0, bool(row[1])


_TABLE = cast(Table, Booking.__table__)
_INSERT = insert(_TABLE).returning(*_TABLE.c)


class BookingRepository(Repository[Booking]):
    model = Booking

    def visible(
        self,
        *,
        statuses: Sequence[str] = (),
        org_id: uuid.UUID | None = None,
        customer_id: uuid.UUID | None = None,
        window_from: datetime | None = None,
        window_to: datetime | None = None,
    ) -> Select[Any]:
        """Bookings the caller may see (RLS decides whose), overlapping [window_from, window_to)."""
        statement = select(Booking)
        if statuses:
            statement = statement.where(Booking.status.in_(list(statuses)))
        if org_id is not None:
            statement = statement.where(Booking.org_id == org_id)
        if customer_id is not None:
            statement = statement.where(Booking.customer_id == customer_id)
        if window_from is not None:
            statement = statement.where(Booking.window_end > window_from)
        if window_to is not None:
            statement = statement.where(Booking.window_start < window_to)
        return statement

    async def page_counted(
        self, statement: Select[Any], *, limit: int, offset: int
    ) -> tuple[list[Booking], int]:
        """One page and the total in one query (count(*) OVER () beside each row); only a
        page past the end asks again for the total."""
        rows = (
            await self.session.execute(statement.add_columns(func.count().over()).limit(limit).offset(offset))
        ).all()
        if rows:
            return [row[0] for row in rows], int(rows[0][1])
        if offset == 0:
            return [], 0
        return await self.page(statement, limit=limit, offset=offset)

    async def add(self, values: dict[str, Any]) -> Booking:
        """INSERT ... RETURNING the whole row (server defaults included): no read-back. One
        Core statement built once (its cache key is the same every time: the values travel
        as parameters), not the ORM's bulk-insert machinery; the row comes back as a Booking
        for the caller to read (not added to the session: it is already stored)."""
        row = (await self.session.execute(_INSERT, values)).one()
        return Booking(**row._mapping)

    async def add_history(self, history: dict[str, Any], event: dict[str, Any]) -> None:
        """The booking's first history row and its outbox event, one statement (the outbox
        row as a CTE). Apart from the booking's own INSERT: the history policy checks that
        the caller sees the booking, which that statement's snapshot would not show yet."""
        statement = insert(BookingStatusHistory).values(**history)
        await self.session.execute(statement.add_cte(outbox_row(**event).cte("outbox_row")))
