"""Routes: organizations — onboarding, the directory, profile and pricing, service area, staff."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from dispatch.kit.geo import GeoJsonArea, GeoPoint
from dispatch.kit.pagination import Page, PageParams
from dispatch.organizations import service, staff
from dispatch.organizations.schemas import (
    OnboardingResult,
    OrganizationCreate,
    OrganizationOut,
    OrganizationSort,
    OrganizationUpdate,
    StaffInvite,
    StaffMember,
)
from gateway.deps import CurrentCaller, SessionDep, SettingsDep

router = APIRouter(prefix="/organizations", tags=["organizations"])
Paging = Annotated[PageParams, Query()]


@router.post("", response_model=OnboardingResult, status_code=status.HTTP_201_CREATED)
async def onboard(
    caller: CurrentCaller, session: SessionDep, settings: SettingsDep, payload: OrganizationCreate
) -> OnboardingResult:
    """Onboard a mover organization (unverified until a platform admin reviews it).

    The caller becomes its mover_admin (a customer who already booked moves cannot: 409); a
    platform admin onboards for someone else by `admin_email`.
    """
    return await service.onboard(session, caller, payload, settings)


@router.get("", response_model=Page[OrganizationOut])
async def directory(
    _: CurrentCaller,
    session: SessionDep,
    paging: Paging,
    sort: Annotated[list[OrganizationSort], Query()] = [OrganizationSort.name],  # noqa: B006
    name: Annotated[str | None, Query(max_length=100)] = None,
    verified: bool | None = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
) -> Page[OrganizationOut]:
    """The directory of active organizations; `lon`+`lat` keeps those serving that point."""
    serves = GeoPoint(lon=lon, lat=lat) if lon is not None and lat is not None else None
    return await service.directory(session, paging, sort, name=name, verified=verified, serves=serves)


@router.get("/{org_id}", response_model=OrganizationOut)
async def profile(_: CurrentCaller, session: SessionDep, org_id: uuid.UUID) -> OrganizationOut:
    return await service.profile(session, org_id)


@router.patch("/{org_id}", response_model=OrganizationOut)
async def update_profile(
    caller: CurrentCaller, session: SessionDep, org_id: uuid.UUID, changes: OrganizationUpdate
) -> OrganizationOut:
    """Edit profile and pricing (its mover_admin or a platform admin)."""
    return await service.update_profile(session, caller, org_id, changes)


@router.get("/{org_id}/service-area", response_model=GeoJsonArea)
async def service_area(_: CurrentCaller, session: SessionDep, org_id: uuid.UUID) -> GeoJsonArea:
    """Where the organization serves, as a GeoJSON MultiPolygon."""
    return await service.service_area(session, org_id)


@router.put("/{org_id}/service-area", response_model=GeoJsonArea)
async def replace_service_area(
    caller: CurrentCaller, session: SessionDep, org_id: uuid.UUID, area: GeoJsonArea
) -> GeoJsonArea:
    """Replace the service area with a valid GeoJSON Polygon or MultiPolygon (lon/lat)."""
    return await service.replace_service_area(session, caller, org_id, area)


@router.post("/{org_id}/staff", response_model=StaffMember, status_code=status.HTTP_201_CREATED)
async def invite_staff(
    caller: CurrentCaller, session: SessionDep, org_id: uuid.UUID, invitation: StaffInvite
) -> StaffMember:
    """Add a dispatcher or a driver who then signs in by OTP to the given email or phone."""
    return await staff.invite(session, caller, org_id, invitation)
