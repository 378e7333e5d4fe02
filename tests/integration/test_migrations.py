"""Migrations on an empty database: upgrade to head, downgrade to base, upgrade again."""

from __future__ import annotations

from persistence.bootstrap import downgrade, migrate
from tests.scratch import ScratchDatabase


def _public_tables(database: ScratchDatabase) -> set[str]:
    with database.admin() as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {row[0] for row in rows}


def test_upgrade_downgrade_upgrade(scratch_database) -> None:  # type: ignore[no-untyped-def]
    database = scratch_database("mig")
    migrate("head", owner_url=database.owner_url)
    tables = _public_tables(database)
    assert {
        "organizations",
        "users",
        "drivers",
        "trucks",
        "bookings",
        "booking_assignments",
        "booking_status_history",
        "outbox",
    } <= tables
    downgrade("base", owner_url=database.owner_url)
    assert _public_tables(database) - {"spatial_ref_sys", "alembic_version"} == set()
    migrate("head", owner_url=database.owner_url)
    assert _public_tables(database) == tables
