"""Migrations on an empty database: upgrade to head, downgrade to base, upgrade again."""

from __future__ import annotations

import psycopg
from sqlalchemy.engine import make_url

from persistence.bootstrap import downgrade, drop_database, migrate, recreate_database
from persistence.config import get_settings


def _public_tables(database: str) -> set[str]:
    admin = make_url(get_settings().admin_database_url).set(database=database)
    with psycopg.connect(admin.render_as_string(hide_password=False)) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {row[0] for row in rows}


def test_upgrade_downgrade_upgrade() -> None:
    settings = get_settings()
    database = f"{make_url(settings.database_url).database}_mig"
    recreate_database(database, settings)
    owner_url = make_url(settings.owner_database_url).set(database=database).render_as_string(
        hide_password=False)
    try:
        migrate("head", owner_url=owner_url)
        tables = _public_tables(database)
        assert {"organizations", "users", "drivers", "trucks", "bookings",
                "booking_assignments", "booking_status_history", "outbox"} <= tables
        downgrade("base", owner_url=owner_url)
        assert _public_tables(database) - {"spatial_ref_sys", "alembic_version"} == set()
        migrate("head", owner_url=owner_url)
        assert _public_tables(database) == tables
    finally:
        drop_database(database)
