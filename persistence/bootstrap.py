"""Make the database usable: roles, database, extensions (as superuser), then migrations."""

from __future__ import annotations

import psycopg
from alembic import command
from alembic.config import Config
from psycopg import sql
from sqlalchemy.engine import make_url

from persistence.config import Settings, get_settings

EXTENSIONS = ("postgis", "btree_gist")


def _ensure_role(cur: psycopg.Cursor, name: str, password: str, *, app: bool) -> None:
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,))
    verb = "ALTER" if cur.fetchone() else "CREATE"
    options = (
        "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE" if app else "LOGIN NOSUPERUSER NOBYPASSRLS"
    )
    cur.execute(
        sql.SQL(f"{verb} ROLE {{}} {options} PASSWORD {{}}").format(
            sql.Identifier(name), sql.Literal(password)
        )
    )


def ensure_database(settings: Settings | None = None, database: str | None = None) -> str:
    """Create roles, the database and extensions if missing; returns the database name."""
    settings = settings or get_settings()
    app_url, owner_url = make_url(settings.database_url), make_url(settings.owner_database_url)
    name = database or owner_url.database or "movehub"
    with psycopg.connect(settings.admin_database_url, autocommit=True) as conn:
        cur = conn.cursor()
        _ensure_role(cur, owner_url.username or "movehub_owner", owner_url.password or "", app=False)
        _ensure_role(cur, app_url.username or "movehub_app", app_url.password or "", app=True)
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if not cur.fetchone():
            cur.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(name), sql.Identifier(owner_url.username or "movehub_owner")
                )
            )
        cur.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(name), sql.Identifier(app_url.username or "movehub_app")
            )
        )
    admin_db = make_url(settings.admin_database_url).set(database=name)
    with psycopg.connect(admin_db.render_as_string(hide_password=False), autocommit=True) as conn:
        for extension in EXTENSIONS:
            conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(extension)))
        conn.execute(
            sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(
                sql.Identifier(app_url.username or "movehub_app")
            )
        )
    return name


def drop_database(name: str, settings: Settings | None = None) -> None:
    """Drop a database, its open connections first (test and benchmark databases)."""
    settings = settings or get_settings()
    with psycopg.connect(settings.admin_database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


def recreate_database(name: str, settings: Settings | None = None) -> str:
    """An empty database of this name with roles and extensions (not yet migrated)."""
    drop_database(name, settings)
    return ensure_database(settings, database=name)


def alembic_config(owner_url: str | None = None) -> Config:
    config = Config("alembic.ini")
    if owner_url:
        config.attributes["url"] = owner_url
    return config


def migrate(revision: str = "head", owner_url: str | None = None) -> None:
    command.upgrade(alembic_config(owner_url), revision)


def downgrade(revision: str = "base", owner_url: str | None = None) -> None:
    command.downgrade(alembic_config(owner_url), revision)
