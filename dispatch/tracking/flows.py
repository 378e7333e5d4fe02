"""From the fleet shards' live events to the customer's notifications: "about N minutes away"
(a `job.eta` the shard flags `near`, once per job) and "your crew has arrived" (the geofence's
`driver.arrived` at the pickup). The outbox's idempotency key keeps each to one per booking
even when a restarted shard or a second gateway replica raises the same event again."""

from __future__ import annotations

import time
import uuid
from typing import Any

import structlog

from dispatch.tracking.rules import Estimate
from dispatch.tracking.service import LinkSettings, Notice, tell_customer
from persistence.config import Settings
from persistence.session import SYSTEM, tenant_session

log = structlog.get_logger("movehub.tracking")


def notices(events: list[dict[str, Any]]) -> list[tuple[uuid.UUID, Notice, int | None]]:
    """The customer notices the events call for: (booking id, notice, minutes)."""
    found: list[tuple[uuid.UUID, Notice, int | None]] = []
    for event in events:
        data = event.get("data") or event
        try:
            booking_id = uuid.UUID(str(data.get("booking_id")))
        except ValueError:
            continue  # not a booking of ours (tests and tools set made-up jobs)
        if event.get("type") == "job.eta" and event.get("near"):
            found.append((booking_id, "crew_near", Estimate(float(data["eta_s"]), 0.0).minutes))
        elif event.get("type") == "driver.arrived" and data.get("stop") == "pickup":
            found.append((booking_id, "crew_arrived", None))
    return found


async def on_fleet_events(events: list[dict[str, Any]], settings: Settings) -> int:
    """Queue the notices these events call for, in one transaction; how many were queued."""
    wanted = notices(events)
    if not wanted:
        return 0
    link = LinkSettings(
        secret=settings.digest_secret, base_url=settings.public_base_url, ttl_s=settings.tracking_link_ttl_s
    )
    queued = 0
    async with tenant_session(SYSTEM) as session:
        for booking_id, notice, minutes in wanted:
            queued += await tell_customer(session, booking_id, notice, link, time.time(), minutes)
    log.info("tracking.notices", queued=queued, events=len(wanted))
    return queued
