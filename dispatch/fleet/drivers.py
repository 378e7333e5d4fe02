"""Use cases for drivers: the roster, hire, edit, and remove (retired when referenced;
the account of a removed driver is deactivated, so their sessions end)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.errors import NotFound, ValidationFailed
from dispatch.fleet.common import apply_changes, owning_org, retire_or_delete
from dispatch.fleet.events import fleet_changed
from dispatch.fleet.schemas import (
    DriverCreate,
    DriverOut,
    DriverSort,
    DriverUpdate,
    FleetRemoval,
)
from dispatch.kit.geo import point_geography, point_of
from dispatch.kit.pagination import Page, PageParams
from dispatch.users.service import end_sessions
from persistence.models import Driver
from persistence.repositories.base import sorted_by
from persistence.repositories.fleet import DriverRepository
from persistence.repositories.users import UserRepository
from persistence.session import Caller

SORT_COLUMNS: dict[str, Any] = {
    "full_name": Driver.full_name,
    "created_at": Driver.created_at,
    "rating_avg": Driver.rating_avg,
    "status": Driver.status,
}


def driver_out(driver: Driver) -> DriverOut:
    return DriverOut(
        id=driver.id,
        org_id=driver.org_id,
        user_id=driver.user_id,
        full_name=driver.full_name,
        phone=driver.phone,
        status=driver.status,
        skills=list(driver.skills),
        home_base=point_of(driver.home_base),
        verified=driver.verified,
        rating_avg=float(driver.rating_avg),
        created_at=driver.created_at,
    )


async def _check_linkable_user(session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID) -> None:
    user = await UserRepository(session).get_by_id(user_id)
    if user is None or user.org_id != org_id or user.role != "driver":
        raise ValidationFailed("user_id must be a driver user of the same organization", field="user_id")


async def roster(
    session: AsyncSession,
    params: PageParams,
    sort: list[DriverSort],
    *,
    org_id: uuid.UUID | None = None,
    status: str | None = None,
    skill: str | None = None,
    name: str | None = None,
) -> Page[DriverOut]:
    """The caller's drivers (RLS limits staff to their org; admins may filter by org)."""
    repository = DriverRepository(session)
    statement = sorted_by(
        repository.roster(org_id=org_id, status=status, skill=skill, name=name), sort, SORT_COLUMNS, Driver.id
    )
    rows, total = await repository.page(statement, limit=params.limit, offset=params.offset)
    return Page.of([driver_out(d) for d in rows], total, params)


async def visible_driver(session: AsyncSession, driver_id: uuid.UUID) -> Driver:
    driver = await DriverRepository(session).get_by_id(driver_id)
    if driver is None:
        raise NotFound("no such driver", driver_id=str(driver_id))
    return driver


async def hire(session: AsyncSession, caller: Caller, payload: DriverCreate) -> Driver:
    """Add a driver to the caller's fleet (or the named org, for platform admins)."""
    org_id = await owning_org(session, caller, payload.org_id)
    if payload.user_id is not None:
        await _check_linkable_user(session, org_id, payload.user_id)
    driver = Driver(
        org_id=org_id,
        full_name=payload.full_name,
        phone=payload.phone,
        skills=list(payload.skills),
        home_base=point_geography(payload.home_base),
        status=payload.status,
        user_id=payload.user_id,
    )
    session.add(driver)
    await session.flush()
    await session.refresh(driver)
    await fleet_changed(session, org_id, "driver", driver.id, "created")
    return driver


async def edit(session: AsyncSession, driver_id: uuid.UUID, changes: DriverUpdate) -> Driver:
    driver = await visible_driver(session, driver_id)
    values = changes.model_dump(exclude_unset=True)
    if values.get("user_id") is not None:
        await _check_linkable_user(session, driver.org_id, values["user_id"])
    apply_changes(driver, values, nullable=frozenset({"phone", "user_id"}))
    await session.flush()
    await session.refresh(driver)
    await fleet_changed(session, driver.org_id, "driver", driver.id, "updated")
    return driver


async def remove(session: AsyncSession, driver_id: uuid.UUID) -> FleetRemoval:
    """Delete (or retire) the driver; their account is deactivated, so their sessions end."""
    driver = await visible_driver(session, driver_id)
    user_id = driver.user_id
    removal = await retire_or_delete(session, driver, "driver", "inactive")
    user = await UserRepository(session).lock_by_id(user_id) if user_id else None
    if user is not None:
        await end_sessions(session, user)
    return removal
