"""Sorting through an Enum of sort keys: `window_start` ascends, `-window_start` descends."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from sqlalchemy import Select


def sort_field(key: StrEnum) -> tuple[str, bool]:
    """The field a key names and whether it sorts descending."""
    value = str(key.value)
    return (value[1:], True) if value.startswith("-") else (value, False)


def apply_sort(statement: Select[Any], keys: Sequence[StrEnum], columns: Mapping[str, Any],
               tiebreak: Any) -> Select[Any]:
    """Order by the requested keys, then by a unique column so pages never overlap."""
    clauses = []
    for key in keys:
        field, descending = sort_field(key)
        column = columns[field]
        clauses.append(column.desc() if descending else column.asc())
    clauses.append(tiebreak.asc())
    return statement.order_by(*clauses)
