"""Use cases of the customer's tracking view: who may see a move in progress, where its crew
is and how far off, and the two one-time customer notifications (crew near, crew arrived)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.errors import Conflict, NotFound
from dispatch.tracking import links, rules
from dispatch.tracking.schemas import Crew, CrewPosition, Eta, Stop, Tracking
from persistence.outbox import enqueue
from persistence.repositories.tracking import TrackingRepository
from persistence.session import Caller
from persistence.statuses import IN_PROGRESS_STATUSES, BookingStatus

# The stop the crew is heading for, by booking status (the shard's HEADING_FOR, as words).
HEADING_FOR: dict[str, Stop] = {BookingStatus.EN_ROUTE: "pickup", BookingStatus.IN_TRANSIT: "dropoff"}
Notice = Literal["crew_near", "crew_arrived"]


class LiveFleet(Protocol):
    """What the tracking view asks of the fleet: the org's live snapshot (actors/runtime.Fleet)."""

    async def snapshot(self, org_id: uuid.UUID) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class LinkSettings:
    secret: str
    base_url: str
    ttl_s: int


def may_see(viewer: Caller, booking: Any) -> bool:
    """The booking's customer, its organization's staff and platform admins."""
    if viewer.is_admin:
        return True
    if viewer.role == "customer":
        return bool(viewer.user_id == booking.customer_id)
    return bool(viewer.is_staff and viewer.org_id == booking.org_id)


async def _live_driver(
    fleet: LiveFleet | None, org_id: uuid.UUID, driver_id: uuid.UUID
) -> dict[str, Any] | None:
    if fleet is None:
        return None
    snapshot = await fleet.snapshot(org_id)
    return next(
        (d for d in snapshot.get("drivers", []) if d["id"] == str(driver_id) and d.get("last_seen")), None
    )


async def tracking(
    session: AsyncSession,
    booking_id: uuid.UUID,
    viewer: Caller,
    fleet: LiveFleet | None,
    model: rules.EtaModel,
) -> Tracking:
    """The crew's position, heading and ETA for a booking between en_route and unloading.
    Read as the system caller: `may_see` is the rule (others get the same 404 as no booking)."""
    row = await TrackingRepository(session).booking_with_crew(booking_id)
    if row is None or not may_see(viewer, row):
        raise NotFound("no such booking")
    if row.status not in IN_PROGRESS_STATUSES:
        raise Conflict(
            f"tracking is open while the move is under way (en_route to unloading); "
            f"this booking is {row.status}",
            status_now=row.status,
        )
    stop = HEADING_FOR.get(row.status)
    live = await _live_driver(fleet, row.org_id, row.driver_id) if row.driver_id else None
    position, source, eta = None, "none", None
    if live is not None:
        position = CrewPosition(
            lat=live["lat"],
            lon=live["lon"],
            heading=live["heading"],
            speed=live["speed"],
            ts=live["last_seen"],
        )
        source = "live"
        job = live.get("job") or {}
        if (
            stop is not None
            and job.get("booking_id") == str(booking_id)
            and job.get("eta_stop") == stop
            and job.get("eta_s") is not None
        ):
            found = rules.Estimate(float(job["eta_s"]), float(job["eta_distance_m"]))
            eta = Eta(
                stop=stop,
                eta_s=round(found.eta_s, 1),
                minutes=found.minutes,
                distance_m=round(found.distance_m, 1),
            )
    elif row.lat is not None:
        position = CrewPosition(
            lat=row.lat, lon=row.lon, heading=row.heading, speed=row.speed, ts=row.recorded_at.timestamp()
        )
        source = "stored"
    if eta is None and stop is not None and position is not None:
        found = rules.estimate(
            position.lat,
            position.lon,
            getattr(row, f"{stop}_lat"),
            getattr(row, f"{stop}_lon"),
            None,
            model,
            position.heading,
        )
        eta = Eta(
            stop=stop,
            eta_s=round(found.eta_s, 1),
            minutes=found.minutes,
            distance_m=round(found.distance_m, 1),
        )
    return Tracking(
        booking_id=row.id,
        status=row.status,
        heading_for=stop,
        crew=Crew(driver_name=row.driver_name, truck_plate=row.truck_plate),
        position=position,
        eta=eta,
        source=source,
        stops={
            "pickup": {"lat": row.pickup_lat, "lon": row.pickup_lon},
            "dropoff": {"lat": row.dropoff_lat, "lon": row.dropoff_lon},
        },
    )


async def tell_customer(
    session: AsyncSession,
    booking_id: uuid.UUID,
    notice: Notice,
    link: LinkSettings,
    now: float,
    minutes: int | None = None,
) -> bool:
    """Queue `notify.<notice>` for the booking's customer (their channel preferences apply
    at delivery), with a signed tracking link. At most once per booking and notice: the
    outbox's idempotency key makes a second trigger a no-op. False when the booking is not
    under way any more (nothing queued)."""
    row = await TrackingRepository(session).booking_with_crew(booking_id)
    if row is None or row.status not in IN_PROGRESS_STATUSES:
        return False
    url = links.tracking_url(link.base_url, link.secret, row.id, row.customer_id, int(now + link.ttl_s))
    context: dict[str, Any] = {
        "booking_id": str(row.id),
        "tracking_url": url,
        "driver_name": row.driver_name or "",
    }
    if minutes is not None:
        context["minutes"] = minutes
    await enqueue(
        session,
        f"notify.{notice}",
        {"user_id": str(row.customer_id), "context": context},
        idempotency_key=f"tracking.{notice}:{row.id}",
        org_id=row.org_id,
        aggregate_id=str(row.id),
    )
    return True
