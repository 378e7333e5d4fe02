"""Use case: which organizations can take a move at this pickup in this window."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.bookings.rules import check_window
from dispatch.bookings.schemas import AvailabilitySort, AvailableOrganization
from dispatch.kit.geo import GeoPoint
from dispatch.kit.pagination import Page, PageParams
from persistence.models import Organization
from persistence.repositories.base import acting_as_system
from persistence.repositories.organizations import OrganizationRepository
from persistence.session import Caller


def _offer(org: Organization, distance_m: float) -> AvailableOrganization:
    return AvailableOrganization(
        org_id=org.id,
        name=org.name,
        code=org.code,
        rating_avg=float(org.rating_avg),
        distance_km=round(distance_m / 1000.0, 2),
        hourly_rate_cents=org.hourly_rate_cents,
        per_km_cents=org.per_km_cents,
        minimum_charge_cents=org.minimum_charge_cents,
        currency=org.currency,
    )


async def available_organizations(
    session: AsyncSession,
    caller: Caller,
    pickup: GeoPoint,
    start: datetime,
    end: datetime,
    volume_m3: float,
    params: PageParams,
    sort: list[AvailabilitySort],
    now: datetime | None = None,
) -> Page[AvailableOrganization]:
    """Verified orgs serving the pickup with a free active driver and a free active truck big
    enough, for the whole window. Fleets are other tenants' rows, so the
    one query runs as system and answers only with directory facts, never fleet rows.
    """
    check_window(start, end, now or datetime.now(UTC))
    async with acting_as_system(session, caller):
        found, total = await OrganizationRepository(session).available_for(
            (pickup.lon, pickup.lat),
            start,
            end,
            volume_m3,
            sort=sort,
            limit=params.limit,
            offset=params.offset,
        )
    return Page.of([_offer(org, distance_m) for org, distance_m in found], total, params)
