"""Whom the simulator plays: the demo drivers it drives and the dispatchers it stands in for,
read through the simulator's repository, with access tokens minted by dispatch/auth.

A local demo tool's shortcut: it mints tokens with the server's own secret (a real driver app
signs in with a one-time code instead).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from geoalchemy2.shape import to_shape

from dispatch.auth.tokens import issue_access_token
from gateway.simulator.motion import Area
from persistence.config import Settings
from persistence.repositories.simulator import SimulatorRepository
from persistence.session import SYSTEM, Caller, tenant_session


@dataclass
class SimDriver:
    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    area: Area
    home: tuple[float, float]  # lon, lat


async def load_drivers(codes: list[str], count: int) -> list[SimDriver]:
    """Up to `count` signed-up drivers, spread evenly over the organizations."""
    async with tenant_session(SYSTEM) as session:
        fleet = SimulatorRepository(session)
        per_org: list[list[SimDriver]] = []
        for org in await fleet.organizations(codes):
            area = Area(org.id, org.code, to_shape(org.service_area))
            rows = await fleet.drivers_with_accounts(org.id)
            per_org.append(
                [
                    SimDriver(driver.id, user_id, driver.full_name, area, (point.x, point.y))
                    for driver, user_id in rows
                    for point in [to_shape(driver.home_base)]
                ]
            )
    chosen: list[SimDriver] = []
    while len(chosen) < count and any(per_org):
        for drivers in per_org:
            if drivers and len(chosen) < count:
                chosen.append(drivers.pop(0))
    return chosen


def driver_token(driver: SimDriver, settings: Settings) -> str:
    """A fresh access token for the driver's socket (minted again at every reconnect)."""
    return issue_access_token(
        Caller(role="driver", user_id=driver.user_id, org_id=driver.area.org_id, driver_id=driver.id),
        settings,
    )


async def dispatcher_tokens(codes: list[str], settings: Settings) -> dict[str, str]:
    """org code -> an access token of the org's dispatcher (for --auto-assign)."""
    async with tenant_session(SYSTEM) as session:
        rows = await SimulatorRepository(session).dispatchers(codes)
    return {
        code: issue_access_token(Caller(role="dispatcher", user_id=user_id, org_id=org_id), settings)
        for code, user_id, org_id in rows
    }
