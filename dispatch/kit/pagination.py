"""Limit/offset pagination with a total, for every list endpoint."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

ItemT = TypeVar("ItemT")
MAX_LIMIT = 200


class PageParams(BaseModel):
    """Which slice of a list the caller wants."""

    limit: int = Field(50, ge=1, le=MAX_LIMIT, description="items per page")
    offset: int = Field(0, ge=0, description="items to skip")


class Page(BaseModel, Generic[ItemT]):
    """One page of a list plus the total number of matching items."""

    items: list[ItemT]
    total: int = Field(examples=[42])
    limit: int = Field(examples=[50])
    offset: int = Field(examples=[0])

    @classmethod
    def of(cls, items: Sequence[ItemT], total: int, params: PageParams) -> Page[ItemT]:
        """The page of `items` the caller asked for with `params`, out of `total`."""
        return cls(items=list(items), total=total, limit=params.limit, offset=params.offset)


async def fetch_page(session: AsyncSession, statement: Select[Any],
                     params: PageParams) -> tuple[list[Any], int]:
    """Run the count and the page of one filtered, sorted statement; returns (rows, total)."""
    counted = select(func.count()).select_from(statement.order_by(None).subquery())
    total = int(await session.scalar(counted) or 0)
    rows = (await session.scalars(statement.limit(params.limit).offset(params.offset))).all()
    return list(rows), total
