"""Use cases for bookings: quote, book (one transaction), list, read and amend."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch import pricing
from dispatch.bookings.rules import check_reschedulable, check_window
from dispatch.bookings.schemas import (
    BookingCreate,
    BookingOut,
    BookingSort,
    BookingUpdate,
    QuoteOut,
    QuoteRequest,
    Stop,
)
from dispatch.errors import Forbidden, NotFound, ValidationFailed
from dispatch.kit.geo import GeoPoint, point_geography, point_of
from dispatch.kit.pagination import Page, PageParams
from persistence.cache import OrgTerms, org_terms
from persistence.models import Booking
from persistence.outbox import enqueue
from persistence.repositories.base import sorted_by
from persistence.repositories.bookings import BookingRepository, measure_move
from persistence.session import Caller
from persistence.statuses import BookingStatus

SORT_COLUMNS: dict[str, Any] = {
    "window_start": Booking.window_start,
    "created_at": Booking.created_at,
    "price_cents": Booking.price_cents,
}


def booking_out(booking: Booking) -> BookingOut:
    return BookingOut(
        id=booking.id,
        org_id=booking.org_id,
        customer_id=booking.customer_id,
        pickup=Stop(address=booking.pickup_address, location=point_of(booking.pickup_location)),
        dropoff=Stop(address=booking.dropoff_address, location=point_of(booking.dropoff_location)),
        window_start=booking.window_start,
        window_end=booking.window_end,
        volume_m3=float(booking.volume_m3),
        crew_size=booking.crew_size,
        required_skills=list(booking.required_skills),
        distance_km=float(booking.distance_km),
        price_cents=booking.price_cents,
        currency=booking.currency,
        status=booking.status,
        notes=booking.notes,
        version=booking.version,
        created_at=booking.created_at,
        updated_at=booking.updated_at,
    )


def _lonlat(point: GeoPoint) -> tuple[float, float]:
    return point.lon, point.lat


async def _bookable_org(session: AsyncSession, org_id: uuid.UUID) -> OrgTerms:
    # Cached in Redis (persistence/cache.py): the org's row is not read on a hit.
    org = await org_terms(session, org_id)
    if org is None or not org.active:
        raise ValidationFailed("no such organization", field="org_id")
    return org


async def _measure(
    session: AsyncSession, org: OrgTerms, pickup: GeoPoint, dropoff: GeoPoint
) -> tuple[float, bool]:
    """The PostGIS distance of the move and whether the org serves the pickup: one query."""
    return await measure_move(session, org.service_area_wkb, _lonlat(pickup), _lonlat(dropoff))


def _price(
    org: OrgTerms, km: float, volume_m3: float, crew_size: int, average_speed_kmh: float
) -> pricing.Quote:
    """The org's price for the move over its distance (driven at `average_speed_kmh`)."""
    rates = pricing.Pricing(
        hourly_rate_cents=org.hourly_rate_cents,
        per_km_cents=org.per_km_cents,
        minimum_charge_cents=org.minimum_charge_cents,
        currency=org.currency,
    )
    return pricing.quote(rates, km, volume_m3, crew_size, average_speed_kmh)


async def _served_price(
    session: AsyncSession,
    org: OrgTerms,
    pickup: GeoPoint,
    dropoff: GeoPoint,
    volume_m3: float,
    crew_size: int,
    *,
    average_speed_kmh: float,
    check_served: bool = True,
) -> pricing.Quote:
    km, served = await _measure(session, org, pickup, dropoff)
    if check_served and not served:
        raise ValidationFailed(f"{org.name} does not serve the pickup location", field="pickup.location")
    return _price(org, km, volume_m3, crew_size, average_speed_kmh)


async def quote(session: AsyncSession, request: QuoteRequest, *, average_speed_kmh: float) -> QuoteOut:
    """What the organization would charge; says whether it serves the pickup at all."""
    org = await _bookable_org(session, request.org_id)
    km, served = await _measure(session, org, request.pickup, request.dropoff)
    priced = _price(org, km, request.volume_m3, request.crew_size, average_speed_kmh)
    return QuoteOut(
        org_id=org.id,
        distance_km=priced.distance_km,
        billable_hours=priced.billable_hours,
        labour_cents=priced.labour_cents,
        distance_cents=priced.distance_cents,
        total_cents=priced.total_cents,
        currency=priced.currency,
        pickup_in_service_area=served,
    )


async def book(
    session: AsyncSession,
    caller: Caller,
    payload: BookingCreate,
    *,
    average_speed_kmh: float,
    now: datetime | None = None,
) -> Booking:
    """Validate, price and write the booking, its first history row and `booking.created`
    in the caller's one transaction."""
    if caller.role != "customer" or caller.user_id is None:
        raise Forbidden("only customers book moves")
    check_window(payload.window_start, payload.window_end, now or datetime.now(UTC))
    org = await _bookable_org(session, payload.org_id)
    if not org.verified:
        raise ValidationFailed(f"{org.name} is not verified yet and takes no bookings", field="org_id")
    priced = await _served_price(
        session,
        org,
        payload.pickup.location,
        payload.dropoff.location,
        payload.volume_m3,
        payload.crew_size,
        average_speed_kmh=average_speed_kmh,
    )
    bookings = BookingRepository(session)
    # Round trips: the measure above (it binds the caller too), this INSERT ... RETURNING
    # (no refresh), then the history row with the outbox event in one statement.
    booking = await bookings.add(
        dict(
            org_id=org.id,
            customer_id=caller.user_id,
            pickup_address=payload.pickup.address,
            pickup_location=point_geography(payload.pickup.location),
            dropoff_address=payload.dropoff.address,
            dropoff_location=point_geography(payload.dropoff.location),
            window_start=payload.window_start,
            window_end=payload.window_end,
            volume_m3=payload.volume_m3,
            crew_size=payload.crew_size,
            required_skills=list(payload.required_skills),
            distance_km=priced.distance_km,
            price_cents=priced.total_cents,
            currency=priced.currency,
            status=BookingStatus.PENDING.value,
            notes=payload.notes,
        )
    )
    await bookings.add_history(
        dict(
            booking_id=booking.id,
            org_id=org.id,
            from_status=None,
            to_status=BookingStatus.PENDING.value,
            actor_user_id=caller.user_id,
            actor_role=caller.role,
            reason="booked",
            metadata_={"price_cents": priced.total_cents, "distance_km": priced.distance_km},
        ),
        dict(
            topic="booking.created",
            payload={
                "booking_id": str(booking.id),
                "org_id": str(org.id),
                "customer_id": str(caller.user_id),
                "price_cents": priced.total_cents,
                "window_start": booking.window_start.isoformat(),
                "window_end": booking.window_end.isoformat(),
            },
            idempotency_key=f"booking.created:{booking.id}",
            org_id=org.id,
            aggregate_id=str(booking.id),
        ),
    )
    return booking


async def listing(
    session: AsyncSession,
    params: PageParams,
    sort: list[BookingSort],
    *,
    statuses: Sequence[str] = (),
    org_id: uuid.UUID | None = None,
    window_from: datetime | None = None,
    window_to: datetime | None = None,
) -> Page[BookingOut]:
    """Bookings the caller may see: a customer's own, an org's for its staff, all for admins."""
    if window_from and window_to and window_to <= window_from:
        raise ValidationFailed("window_to must be after window_from", field="window_to")
    bookings = BookingRepository(session)
    statement = bookings.visible(
        statuses=statuses, org_id=org_id, window_from=window_from, window_to=window_to
    )
    rows, total = await bookings.page_counted(
        sorted_by(statement, sort, SORT_COLUMNS, Booking.id), limit=params.limit, offset=params.offset
    )
    return Page.of([booking_out(b) for b in rows], total, params)


async def visible_booking(session: AsyncSession, booking_id: uuid.UUID, *, lock: bool = False) -> Booking:
    repository = BookingRepository(session)
    booking = await (repository.lock_by_id(booking_id) if lock else repository.get_by_id(booking_id))
    if booking is None:
        raise NotFound("no such booking", booking_id=str(booking_id))
    return booking


async def amend(
    session: AsyncSession,
    caller: Caller,
    booking_id: uuid.UUID,
    changes: BookingUpdate,
    *,
    average_speed_kmh: float,
    now: datetime | None = None,
) -> Booking:
    """Edit notes any time; move the window or addresses only before assignment (re-priced)."""
    booking = await visible_booking(session, booking_id, lock=True)
    sent = changes.model_dump(exclude_unset=True)
    for field, value in sent.items():
        if value is None:
            raise ValidationFailed(f"{field} cannot be null", field=field)
    check_reschedulable(booking.status, set(sent))
    if "notes" in sent:
        booking.notes = sent["notes"]
    now = now or datetime.now(UTC)
    if set(sent) - {"notes"}:
        await _reschedule(session, booking, changes, now, average_speed_kmh)
    booking.updated_at = now
    await session.flush()
    await enqueue(
        session,
        "booking.updated",
        {
            "booking_id": str(booking.id),
            "org_id": str(booking.org_id),
            "changed": sorted(sent),
            "actor_role": caller.role,
        },
        org_id=booking.org_id,
        aggregate_id=str(booking.id),
    )
    await session.refresh(booking)
    return booking


async def _reschedule(
    session: AsyncSession, booking: Booking, changes: BookingUpdate, now: datetime, average_speed_kmh: float
) -> None:
    start = changes.window_start or booking.window_start
    end = changes.window_end or booking.window_end
    check_window(start, end, now)
    org = await _bookable_org(session, booking.org_id)
    pickup = changes.pickup or Stop(
        address=booking.pickup_address, location=point_of(booking.pickup_location)
    )
    dropoff = changes.dropoff or Stop(
        address=booking.dropoff_address, location=point_of(booking.dropoff_location)
    )
    priced = await _served_price(
        session,
        org,
        pickup.location,
        dropoff.location,
        float(booking.volume_m3),
        booking.crew_size,
        average_speed_kmh=average_speed_kmh,
        check_served=changes.pickup is not None,
    )
    booking.window_start, booking.window_end = start, end
    booking.pickup_address = pickup.address
    booking.pickup_location = point_geography(pickup.location)
    booking.dropoff_address = dropoff.address
    booking.dropoff_location = point_geography(dropoff.location)
    booking.distance_km, booking.price_cents = priced.distance_km, priced.total_cents
