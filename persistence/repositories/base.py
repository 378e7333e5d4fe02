"""The shared repository base: a model, the caller's session, lookups by primary key, and the
two things every list needs (a sorted statement, one page of it with the total)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from enum import StrEnum
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.models.base import Base
from persistence.session import SYSTEM, Caller, set_caller

ModelT = TypeVar("ModelT", bound=Base)
LonLat = tuple[float, float]


def geography_point(position: LonLat) -> ColumnElement[Any]:
    """A WGS84 geography point from (lon, lat), so distances come out in metres."""
    lon, lat = position
    return func.ST_GeogFromText(f"SRID=4326;POINT({float(lon)!r} {float(lat)!r})")


class Repository(Generic[ModelT]):
    model: ClassVar[type[Any]]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_by_id(self, row_id: uuid.UUID) -> ModelT | None:
        """The row if it exists and row-level security lets the caller see it."""
        return await self.session.get(self.model, row_id)

    async def lock_by_id(self, row_id: uuid.UUID) -> ModelT | None:
        """The visible row, locked for update until the transaction ends."""
        statement = select(self.model).where(self.model.id == row_id).with_for_update()
        return (await self.session.scalars(statement)).first()

    async def page(self, statement: Select[Any], *, limit: int, offset: int) -> tuple[list[Any], int]:
        """One page of a filtered, sorted statement and how many rows match in all."""
        counted = select(func.count()).select_from(statement.order_by(None).subquery())
        total = int(await self.session.scalar(counted) or 0)
        rows = (await self.session.scalars(statement.limit(limit).offset(offset))).all()
        return list(rows), total


def sort_field(key: StrEnum) -> tuple[str, bool]:
    """The field a sort key names and whether it sorts descending (`-window_start`)."""
    value = str(key.value)
    return (value[1:], True) if value.startswith("-") else (value, False)


def sorted_by(
    statement: Select[Any], keys: Sequence[StrEnum], columns: Mapping[str, Any], tiebreak: Any
) -> Select[Any]:
    """Order by the requested keys, then by a unique column so pages never overlap."""
    clauses = []
    for key in keys:
        field, descending = sort_field(key)
        column = columns[field]
        clauses.append(column.desc() if descending else column.asc())
    clauses.append(tiebreak.asc())
    return statement.order_by(*clauses)


def like_pattern(fragment: str) -> str:
    """A LIKE pattern matching the fragment literally anywhere in the text."""
    escaped = fragment.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
    return f"%{escaped}%"


@asynccontextmanager
async def acting_as_system(session: AsyncSession, caller: Caller) -> AsyncIterator[None]:
    """Read across tenants inside the caller's transaction, then put the caller back.

    Only for questions whose answer is public (which orgs can take a job), never for rows.
    """
    await set_caller(session, SYSTEM)
    try:
        yield
    except BaseException:
        # If the transaction is aborted the restore fails too, and nothing else can run in it.
        with suppress(Exception):
            await set_caller(session, caller)
        raise
    await set_caller(session, caller)
