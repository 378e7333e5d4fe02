"""Row-level security meta-test: every org-owned table is forced under RLS with a policy, and
the app role can neither bypass RLS nor own the tables."""

from __future__ import annotations

import psycopg
from sqlalchemy.engine import make_url

from persistence.config import get_settings


def _catalog(query: str, *params: object) -> list[tuple[object, ...]]:
    settings = get_settings()
    database = make_url(settings.database_url).database
    admin = make_url(settings.admin_database_url).set(database=database)
    with psycopg.connect(admin.render_as_string(hide_password=False)) as conn:
        return list(conn.execute(query, params).fetchall())  # type: ignore[arg-type]


TENANT_TABLES = """
SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
       (SELECT count(*) FROM pg_policies p WHERE p.schemaname = 'public'
          AND p.tablename = c.relname) AS policies
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'org_id' AND NOT a.attisdropped
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
ORDER BY c.relname
"""
# Partitions: queries through the parent get the parent's policies and privilege checks, so a
# partition must be closed to the app role when named directly (and have RLS on, no policy).
PARTITIONS = """
SELECT c.relname, c.relrowsecurity,
       has_table_privilege(%s, c.oid, 'SELECT, INSERT, UPDATE, DELETE') AS app_may_touch
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid AND c.relkind IN ('r', 'p')
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
ORDER BY c.relname
"""


def test_every_org_table_forces_rls_with_a_policy(database: str) -> None:
    tables = _catalog(TENANT_TABLES)
    names = {row[0] for row in tables}
    assert {
        "bookings",
        "drivers",
        "trucks",
        "booking_assignments",
        "booking_status_history",
        "users",
        "outbox",
    } <= names
    unprotected = [row for row in tables if not (row[1] and row[2] and row[3] >= 1)]
    assert unprotected == [], f"tables with org_id lacking forced RLS or a policy: {unprotected}"


def test_partitions_are_closed_to_the_app_role(database: str) -> None:
    role = make_url(get_settings().database_url).username
    partitions = _catalog(PARTITIONS, role)
    assert "driver_breadcrumbs_default" in {row[0] for row in partitions}
    open_ones = [row for row in partitions if not row[1] or row[2]]
    assert open_ones == [], f"partitions the app role may touch or without RLS: {open_ones}"


def test_app_role_cannot_bypass_rls(database: str) -> None:
    role = make_url(get_settings().database_url).username
    [(superuser, bypass)] = _catalog("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = %s", role)
    assert superuser is False and bypass is False
    owned = _catalog("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tableowner = %s", role)
    assert owned == []
    member_of_owner = _catalog(
        "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
        "JOIN pg_roles me ON me.oid = m.member WHERE me.rolname = %s",
        role,
    )
    assert member_of_owner == []
