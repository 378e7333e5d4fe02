"""Use cases for organizations: onboard, browse, edit profile, pricing and service area."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.auth.tokens import issue_access_token
from dispatch.errors import Conflict, Forbidden, NotFound, ValidationFailed
from dispatch.kit.geo import (
    GeoJsonArea,
    GeoPoint,
    area_geography,
    area_of,
    point_geography,
    point_of,
)
from dispatch.kit.pagination import Page, PageParams
from dispatch.organizations.schemas import (
    OnboardingResult,
    OrganizationCreate,
    OrganizationOut,
    OrganizationSort,
    OrganizationUpdate,
)
from persistence.cache import org_terms_changing
from persistence.config import Settings
from persistence.models import Organization, User
from persistence.outbox import enqueue
from persistence.repositories.base import sorted_by
from persistence.repositories.organizations import OrganizationRepository
from persistence.repositories.users import UserRepository
from persistence.session import Caller

SORT_COLUMNS: dict[str, Any] = {
    "name": Organization.name,
    "created_at": Organization.created_at,
    "rating_avg": Organization.rating_avg,
}


def organization_out(org: Organization) -> OrganizationOut:
    return OrganizationOut.model_validate(
        {
            **{
                column: getattr(org, column)
                for column in OrganizationOut.model_fields
                if column != "base_location"
            },
            "base_location": point_of(org.base_location),
        }
    )


async def _future_admin(session: AsyncSession, caller: Caller, payload: OrganizationCreate) -> User | None:
    """The user who will administer the new org; None means create one from admin_email."""
    users = UserRepository(session)
    if caller.role == "platform_admin":
        if payload.admin_email is None:
            raise ValidationFailed("name the organization's admin in admin_email", field="admin_email")
        user = await users.get_by_email(str(payload.admin_email))
    else:
        if payload.admin_email is not None:
            raise ValidationFailed(
                "only platform admins onboard for someone else; leave "
                "admin_email out to become the admin yourself",
                field="admin_email",
            )
        assert caller.user_id is not None
        user = await users.get_by_id(caller.user_id)
        if user is None:
            raise NotFound("your user account no longer exists")
    if user is None:
        return None
    if user.role != "customer":
        raise Conflict(
            f"this user is already a {user.role}; an account belongs to at most one organization",
            field="admin_email",
        )
    if await users.has_bookings(user.id):
        # Their bookings (and refunds, ratings, support) stay tied to a customer account.
        raise Conflict(
            "a customer with bookings keeps their customer account; sign up the "
            "organization with a separate email or phone",
            field="admin_email",
        )
    return user


async def onboard(
    session: AsyncSession, caller: Caller, payload: OrganizationCreate, settings: Settings
) -> OnboardingResult:
    """Create an unverified organization and make its first admin (the caller, by default)."""
    organizations = OrganizationRepository(session)
    if await organizations.code_taken(payload.code):
        raise Conflict(f"organization code {payload.code} is taken", field="code")
    admin = await _future_admin(session, caller, payload)
    org = Organization(
        name=payload.name,
        code=payload.code,
        service_area=area_geography(payload.service_area),
        base_location=point_geography(payload.base_location),
        hourly_rate_cents=payload.hourly_rate_cents,
        per_km_cents=payload.per_km_cents,
        minimum_charge_cents=payload.minimum_charge_cents,
        currency=payload.currency,
        timezone=payload.timezone,
        contact_email=payload.contact_email,
        contact_phone=payload.contact_phone,
        verified=False,
        active=True,
    )
    session.add(org)
    await session.flush()
    if admin is None:
        admin = User(role="mover_admin", org_id=org.id, email=str(payload.admin_email), full_name="")
        session.add(admin)
    else:
        admin.role, admin.org_id = "mover_admin", org.id
    await session.flush()
    await session.refresh(org)
    token = None
    if admin.id == caller.user_id:
        # The caller's own account, now the org's admin: keep its token version, so a
        # deactivation before this onboarding still holds.
        token = issue_access_token(
            Caller(role="mover_admin", user_id=admin.id, org_id=org.id), settings, version=admin.token_version
        )
    return OnboardingResult(organization=organization_out(org), admin_user_id=admin.id, access_token=token)


async def directory(
    session: AsyncSession,
    params: PageParams,
    sort: list[OrganizationSort],
    *,
    name: str | None = None,
    verified: bool | None = None,
    serves: GeoPoint | None = None,
) -> Page[OrganizationOut]:
    """The public directory of active organizations, optionally those serving a point."""
    organizations = OrganizationRepository(session)
    statement = organizations.directory(
        name=name, verified=verified, covering=(serves.lon, serves.lat) if serves is not None else None
    )
    rows, total = await organizations.page(
        sorted_by(statement, sort, SORT_COLUMNS, Organization.id), limit=params.limit, offset=params.offset
    )
    return Page.of([organization_out(org) for org in rows], total, params)


async def _visible(session: AsyncSession, org_id: uuid.UUID) -> Organization:
    org = await OrganizationRepository(session).get_by_id(org_id)
    if org is None or not org.active:
        raise NotFound("no such organization", org_id=str(org_id))
    return org


async def editable(session: AsyncSession, caller: Caller, org_id: uuid.UUID) -> Organization:
    """The organization locked for an edit by its admin or a platform admin.

    Anyone else's organization answers 404 (tenants never learn about each other through
    edit attempts); its own dispatchers get 403.
    """
    if not caller.is_admin and caller.org_id != org_id:
        raise NotFound("no such organization", org_id=str(org_id))
    if caller.role == "dispatcher":
        raise Forbidden("only the organization's mover_admin edits it")
    if caller.role not in ("mover_admin", "platform_admin", "system"):
        raise NotFound("no such organization", org_id=str(org_id))
    org = await OrganizationRepository(session).lock_by_id(org_id)
    if org is None:
        raise NotFound("no such organization", org_id=str(org_id))
    return org


async def _terms_changing(session: AsyncSession, org_id: uuid.UUID) -> None:
    """Quotes and bookings read an org's terms from a cache (persistence/cache.py): mark
    them changing before this edit commits, and raise fleet.changed, whose after-commit
    handler invalidates them again and lets the fleet shards reload the org."""
    await org_terms_changing(org_id)
    await enqueue(
        session,
        "fleet.changed",
        {"org_id": str(org_id), "kind": "organization", "id": str(org_id), "action": "updated"},
        org_id=org_id,
        aggregate_id=str(org_id),
    )


async def profile(session: AsyncSession, org_id: uuid.UUID) -> OrganizationOut:
    return organization_out(await _visible(session, org_id))


async def update_profile(
    session: AsyncSession, caller: Caller, org_id: uuid.UUID, changes: OrganizationUpdate
) -> OrganizationOut:
    """Edit the profile and pricing; fields left out stay as they are."""
    org = await editable(session, caller, org_id)
    await _terms_changing(session, org.id)
    for field, value in changes.model_dump(exclude_unset=True).items():
        if value is None and field not in ("contact_email", "contact_phone"):
            raise ValidationFailed(f"{field} cannot be null", field=field)
        if field == "base_location":
            org.base_location = point_geography(GeoPoint.model_validate(value))
        else:
            setattr(org, field, value)
    await session.flush()
    await session.refresh(org)
    return organization_out(org)


async def service_area(session: AsyncSession, org_id: uuid.UUID) -> GeoJsonArea:
    return area_of((await _visible(session, org_id)).service_area)


async def replace_service_area(
    session: AsyncSession, caller: Caller, org_id: uuid.UUID, area: GeoJsonArea
) -> GeoJsonArea:
    """Replace where the organization serves; stored as a MultiPolygon."""
    org = await editable(session, caller, org_id)
    await _terms_changing(session, org.id)
    org.service_area = area_geography(area)
    await session.flush()
    await session.refresh(org)
    return area_of(org.service_area)
