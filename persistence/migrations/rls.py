"""SQL builders for row-level security, shared by every migration that adds a tenant table.

The caller is read from transaction-local settings (see persistence/session.py) through the
app_* functions created in the first migration; an unset context matches no policy.
"""

from __future__ import annotations

from sqlalchemy.engine import make_url

from persistence.config import get_settings


def app_role_name() -> str:
    """The login role the application connects as (from MOVEHUB_DATABASE_URL)."""
    return make_url(get_settings().database_url).username or "movehub_app"


def enable(table: str) -> list[str]:
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {app_role_name()}",
    ]


def policy(table: str, name: str, using: str, check: str | None = None, command: str = "ALL") -> str:
    check_sql = ""
    if command in ("ALL", "INSERT", "UPDATE"):
        check_sql = f" WITH CHECK ({check or using})"
    using_sql = "" if command == "INSERT" else f" USING ({using})"
    return f"CREATE POLICY {table}_{name} ON {table} FOR {command}{using_sql}{check_sql}"


def tenant_table(table: str, *, driver_reads: str | None = None) -> list[str]:
    """RLS for an org-owned table: platform admins and the org's staff; optionally its drivers."""
    statements = [
        *enable(table),
        policy(table, "admin", "app_is_admin()"),
        policy(table, "staff", "app_is_staff_of(org_id)"),
    ]
    if driver_reads:
        statements.append(policy(table, "driver", driver_reads, command="SELECT"))
    return statements
