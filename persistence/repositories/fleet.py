"""Driver and truck queries: the filtered roster and truck yard lists."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, any_, select

from persistence.models import Driver, Truck
from persistence.repositories.base import Repository, like_pattern


class DriverRepository(Repository[Driver]):
    model = Driver

    def roster(
        self,
        *,
        org_id: uuid.UUID | None = None,
        status: str | None = None,
        skill: str | None = None,
        name: str | None = None,
    ) -> Select[Any]:
        """Drivers the caller may see, narrowed by org, status, skill or a name fragment."""
        statement = select(Driver)
        if org_id is not None:
            statement = statement.where(Driver.org_id == org_id)
        if status is not None:
            statement = statement.where(Driver.status == status)
        if skill is not None:
            statement = statement.where(any_(Driver.skills) == skill)
        if name:
            statement = statement.where(Driver.full_name.ilike(like_pattern(name)))
        return statement


class TruckRepository(Repository[Truck]):
    model = Truck

    def yard(
        self,
        *,
        org_id: uuid.UUID | None = None,
        status: str | None = None,
        min_capacity_m3: float | None = None,
    ) -> Select[Any]:
        """Trucks the caller may see, narrowed by org, status or minimum capacity."""
        statement = select(Truck)
        if org_id is not None:
            statement = statement.where(Truck.org_id == org_id)
        if status is not None:
            statement = statement.where(Truck.status == status)
        if min_capacity_m3 is not None:
            statement = statement.where(Truck.capacity_m3 >= min_capacity_m3)
        return statement
