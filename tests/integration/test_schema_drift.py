"""The ORM models and the migrations describe one schema: Alembic's compare_metadata finds no
difference between persistence.models (Base.metadata) and the migrated test database.

Compared: tables, columns, types, nullability, primary keys, foreign keys with their delete
rules, unique constraints and indexes (partial, descending and GiST ones too). Not compared,
because the ORM does not hold them: CHECK and exclusion constraints, RLS policies, triggers
(Alembic's autogenerate does not look at them), and server defaults (the models give most
columns a Python-side default, the migrations a server one as well; both are meant).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import (
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.ext.asyncio import create_async_engine

from persistence.config import get_settings
from persistence.models import Base

# What the database holds that the models rightly do not: PostGIS's own table, and the day
# partitions of the positions trail (created and dropped at run time by the partition job;
# the models map their parent, driver_breadcrumbs).
NOT_OURS = {"spatial_ref_sys"}
TRAIL_PARTITION = re.compile(r"^driver_breadcrumbs_(default|\d{8})$")


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    table = obj.name if type_ == "table" else getattr(getattr(obj, "table", None), "name", "")
    return not (table in NOT_OURS or TRAIL_PARTITION.match(table or ""))


def _signature(constraint: UniqueConstraint) -> tuple[str, tuple[str, ...]]:
    return constraint.table.name, tuple(sorted(column.name for column in constraint.columns))


def without_renamed_uniques(diffs: list[Any]) -> list[Any]:
    """Unique constraints count by their columns: the first migrations let PostgreSQL name
    them (users_email_key), the models name them by convention (uq_users_email); a name is
    no behaviour, and renaming would take a migration of its own."""

    def unique(diff: Any, kind: str) -> bool:
        return isinstance(diff, tuple) and diff[0] == kind and isinstance(diff[1], UniqueConstraint)

    removed = {_signature(d[1]) for d in diffs if unique(d, "remove_constraint")}
    added = {_signature(d[1]) for d in diffs if unique(d, "add_constraint")}
    renamed = removed & added
    return [
        d
        for d in diffs
        if not (
            (unique(d, "remove_constraint") or unique(d, "add_constraint")) and _signature(d[1]) in renamed
        )
    ]


def differences(connection: Connection, metadata: MetaData) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={"compare_type": True, "compare_server_default": False, "include_object": include_object},
    )
    return without_renamed_uniques(compare_metadata(context, metadata))


def _describe(diff: Any) -> str:
    return repr(diff)[:300]


def _key(diff: Any) -> tuple[str, str, str]:
    """(what, table, name) of one difference, for the drift check below."""
    if isinstance(diff, list):  # column changes come grouped: [("modify_type", None, table, ...)]
        kind, _, table, column = diff[0][:4]
        return kind, table, column
    if diff[0] == "add_column":
        return diff[0], diff[2], diff[3].name
    return diff[0], diff[1].table.name, diff[1].name


@pytest.fixture
async def schema_diff() -> AsyncIterator[Any]:
    """Compares a given metadata with the migrated test database (as its owner)."""
    engine = create_async_engine(get_settings().owner_database_url)

    async def compare(metadata: MetaData) -> list[Any]:
        async with engine.connect() as connection:
            return await connection.run_sync(differences, metadata)

    yield compare
    await engine.dispose()


async def test_models_and_migrations_describe_one_schema(schema_diff: Any) -> None:
    diffs = await schema_diff(Base.metadata)
    assert diffs == [], "models and migrations differ:\n" + "\n".join(map(_describe, diffs))


async def test_a_drifted_model_is_caught(schema_diff: Any) -> None:
    drifted = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables["bookings"].append_column(Column("drift_probe", Integer))
    drifted.tables["trucks"].c.plate.type = String(7)
    Index("ix_trucks_drift_probe", drifted.tables["trucks"].c.capacity_m3)
    drifted.tables["users"].append_constraint(
        UniqueConstraint("full_name", name="uq_users_drift_probe")
    )  # not a rename: kept

    assert {_key(diff) for diff in await schema_diff(drifted)} == {
        ("add_column", "bookings", "drift_probe"),
        ("modify_type", "trucks", "plate"),
        ("add_index", "trucks", "ix_trucks_drift_probe"),
        ("add_constraint", "users", "uq_users_drift_probe"),
    }


def test_only_trail_partitions_and_postgis_are_left_out() -> None:
    metadata = MetaData()

    def included(name: str) -> bool:
        return include_object(Table(name, metadata), name, "table", True, None)

    assert not included("driver_breadcrumbs_20261207")
    assert not included("driver_breadcrumbs_default")
    assert not included("spatial_ref_sys")
    assert included("driver_breadcrumbs") and included("driver_breadcrumbs_archive")
