"""Alembic environment: migrations run as the owner role (psycopg, so one op may hold many
statements)."""

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from persistence.config import get_settings
from persistence.models import Base

target_metadata = Base.metadata


def _owner_url() -> str:
    url = make_url(context.config.attributes.get("url") or get_settings().owner_database_url)
    return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


engine = create_engine(_owner_url())
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
