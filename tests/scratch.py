"""Scratch databases: an empty database of a test's own, for walking migrations up and down."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from sqlalchemy.engine import make_url

from persistence.config import get_settings


@dataclass(frozen=True)
class ScratchDatabase:
    """An empty database of its own, for tests that walk migrations up and down."""

    name: str
    owner_url: str  # what migrate()/downgrade() connect with

    def admin(self) -> psycopg.Connection:
        """A superuser connection (autocommit), which writes past row-level security."""
        url = make_url(get_settings().admin_database_url).set(database=self.name)
        return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
