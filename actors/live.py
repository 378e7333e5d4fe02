"""Applying driver pings to a shard's live state, and reading it back for the board."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from actors.fleet_state import OrgState
from dispatch.assignment.scoring import haversine_km
from persistence.statuses import BookingStatus

ONLINE_WITHIN_S = 60.0
# The stop a driver is heading for, by its job's status (arrival there is what the geofence sees).
HEADING_FOR = {BookingStatus.EN_ROUTE: "pickup", BookingStatus.IN_TRANSIT: "dropoff"}
# A job whose crew should be at the pickup once its window started (else: running late).
DUE_AT_PICKUP = (BookingStatus.ASSIGNED, BookingStatus.EN_ROUTE)


def apply_pings(orgs: dict[str, OrgState], pings: list[dict[str, Any]],
                geofence_m: float) -> list[dict[str, Any]]:
    """Update positions in place; drop unknown drivers and out-of-order pings; return arrival
    events when a driver enters the geofence of its current job's pickup or dropoff."""
    events: list[dict[str, Any]] = []
    for ping in pings:
        state = orgs.get(str(ping["org_id"]))
        row = state.driver_row.get(str(ping["driver_id"])) if state else None
        if state is None or row is None:
            continue
        live, fleet = state.live, state.fleet
        if ping["ts"] <= live.last_seen[row]:
            continue  # older than what we have: the network reordered it
        fleet.lat[row], fleet.lon[row] = ping["lat"], ping["lon"]
        live.heading[row] = np.nan if ping.get("heading") is None else ping["heading"]
        live.speed[row] = np.nan if ping.get("speed") is None else ping["speed"]
        live.last_seen[row] = ping["ts"]
        live.applied[row] += 1
        job = live.job[row]
        if job is not None:
            events.extend(_arrivals(state, row, job, ping, geofence_m))
    return events


def _arrivals(state: OrgState, row: int, job: dict[str, Any], ping: dict[str, Any],
              geofence_m: float) -> list[dict[str, Any]]:
    stop = HEADING_FOR.get(job["status"])
    if stop is None or job.get(f"arrived_{stop}"):
        return []
    distance_m = 1000 * float(haversine_km(ping["lat"], ping["lon"], job[f"{stop}_lat"],
                                           job[f"{stop}_lon"]))
    if distance_m > geofence_m:
        return []
    job[f"arrived_{stop}"] = True  # one event per stop
    return [{"type": "driver.arrived", "org_id": state.org_id,
             "driver_id": state.fleet.driver_ids[row], "booking_id": job["booking_id"],
             "stop": stop, "ts": ping["ts"]}]


def set_job(state: OrgState, driver_id: str, job: dict[str, Any] | None) -> None:
    row = state.driver_row.get(driver_id)
    if row is not None:
        state.live.job[row] = dict(job) if job else None


def snapshot(state: OrgState, now: float | None = None) -> dict[str, Any]:
    now = now or time.time()
    fleet, live = state.fleet, state.live

    def number(value: float) -> float | None:
        return None if np.isnan(value) else round(float(value), 2)

    return {
        "org_id": state.org_id,
        "drivers": [{
            "id": driver_id, "lat": float(fleet.lat[i]), "lon": float(fleet.lon[i]),
            "heading": number(live.heading[i]), "speed": number(live.speed[i]),
            "last_seen": float(live.last_seen[i]) or None,
            "online": bool(now - live.last_seen[i] < ONLINE_WITHIN_S),
            "eligible": bool(fleet.eligible[i]), "job": live.job[i],
        } for i, driver_id in enumerate(fleet.driver_ids)],
        "trucks": [{"id": truck_id, "capacity_m3": float(fleet.truck_capacity[i]),
                    "active": bool(fleet.truck_active[i])}
                   for i, truck_id in enumerate(fleet.truck_ids)],
    }


def carry_live_state(old: OrgState, new: OrgState) -> None:
    """A reload from the database keeps what only the live stream knows."""
    for driver_id, new_row in new.driver_row.items():
        old_row = old.driver_row.get(driver_id)
        if old_row is None or old.live.last_seen[old_row] == 0:
            continue
        new.fleet.lat[new_row] = old.fleet.lat[old_row]
        new.fleet.lon[new_row] = old.fleet.lon[old_row]
        new.live.heading[new_row] = old.live.heading[old_row]
        new.live.speed[new_row] = old.live.speed[old_row]
        new.live.last_seen[new_row] = old.live.last_seen[old_row]
        new.live.job[new_row] = old.live.job[old_row]
        new.live.applied[new_row] = old.live.applied[old_row]


def due_alerts(state: OrgState, now: float, late_grace_s: float,
               offline: set[str]) -> list[dict[str, Any]]:
    """Alerts not raised yet: a driver gone silent (once until it pings again) and a job whose
    window started `late_grace_s` ago while its driver is not there (once per job)."""
    live, ids = state.live, state.fleet.driver_ids
    alerts: list[dict[str, Any]] = []
    silent = (live.last_seen > 0) & (now - live.last_seen >= ONLINE_WITHIN_S)
    for row in np.flatnonzero(silent).tolist():
        i = int(row)
        if ids[i] not in offline:
            offline.add(ids[i])
            alerts.append({"type": "alert.offline", "org_id": state.org_id, "ts": now,
                           "data": {"driver_id": ids[i], "last_seen": float(live.last_seen[i])}})
    offline.difference_update([ids[i] for i in np.flatnonzero(~silent)])
    for i, job in enumerate(live.job):
        if (job is None or job.get("alerted_late") or job.get("status") not in
                DUE_AT_PICKUP or now < float(job.get("window_start") or now) +
                late_grace_s):
            continue
        job["alerted_late"] = True
        alerts.append({"type": "alert.late", "org_id": state.org_id, "ts": now, "data": {
            "driver_id": ids[i], "booking_id": job["booking_id"], "status": job["status"],
            "window_start": job["window_start"]}})
    return alerts
