"""Declarative base, naming convention and the column helpers every model shares."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from geoalchemy2 import Geography
from sqlalchemy import CheckConstraint, DateTime, MetaData, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()"))


def timestamp_column() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


def point() -> Geography:
    return Geography(geometry_type="POINT", srid=4326, spatial_index=False)


def multipolygon() -> Geography:
    return Geography(geometry_type="MULTIPOLYGON", srid=4326, spatial_index=False)


def status_known(vocabulary: type[StrEnum]) -> CheckConstraint:
    """The table's `status` holds a word of its vocabulary (persistence/statuses.py), listed in
    the vocabulary's order and quoted as the migrations write it."""
    words = ",".join(f"'{status.value}'" for status in vocabulary)
    return CheckConstraint(f"status IN ({words})", name="status_known")
