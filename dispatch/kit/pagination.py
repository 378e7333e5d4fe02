"""Limit/offset pagination with a total, for every list endpoint (the query side is
`Repository.page` in persistence/repositories/base.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, TypeVar

from pydantic import BaseModel, Field

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
