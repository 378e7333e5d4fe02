"""Applying driver pings to a shard's live state, and reading it back for the board."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from actors.fleet_state import OrgState
from dispatch.assignment.scoring import haversine_km
from dispatch.tracking import rules as eta_rules
from persistence.statuses import BookingStatus

ONLINE_WITHIN_S = 60.0
# The stop a driver is heading for, by its job's status (arrival there is what the geofence sees).
HEADING_FOR = {BookingStatus.EN_ROUTE: "pickup", BookingStatus.IN_TRANSIT: "dropoff"}
# A job whose crew should be at the pickup once its window started (else: running late).
DUE_AT_PICKUP = (BookingStatus.ASSIGNED, BookingStatus.EN_ROUTE)


def apply_pings(
    orgs: dict[str, OrgState],
    pings: list[dict[str, Any]],
    geofence_m: float,
    eta: eta_rules.EtaModel | None = None,
) -> list[dict[str, Any]]:
    """Update positions in place; drop unknown drivers and out-of-order pings; return arrival
    events when a driver enters the geofence of its current job's pickup or dropoff, and
    `job.eta` events when the ETA to that stop changes by a minute (given an ETA model)."""
    events: list[dict[str, Any]] = []
    for ping in pings:
        state = orgs.get(str(ping["org_id"]))
        row = state.driver_row.get(str(ping["driver_id"])) if state else None
        if state is None or row is None:
            continue
        live, fleet = state.live, state.fleet
        if ping["ts"] <= live.last_seen[row]:
            continue  # older than what we have: the network reordered it
        before = (float(fleet.lat[row]), float(fleet.lon[row]), float(live.last_seen[row]))
        fleet.lat[row], fleet.lon[row] = ping["lat"], ping["lon"]
        live.heading[row] = np.nan if ping.get("heading") is None else ping["heading"]
        live.speed[row] = np.nan if ping.get("speed") is None else ping["speed"]
        live.last_seen[row] = ping["ts"]
        live.applied[row] += 1
        job = live.job[row]
        if job is not None:
            events.extend(_arrivals(state, row, job, ping, geofence_m))
            if eta is not None:
                events.extend(_eta(state, row, job, ping, before, eta))
    return events


def _eta(
    state: OrgState,
    row: int,
    job: dict[str, Any],
    ping: dict[str, Any],
    before: tuple[float, float, float],
    model: eta_rules.EtaModel,
) -> list[dict[str, Any]]:
    """Track the job's smoothed speed and ETA in the job itself (it travels with handovers
    and reloads); one `job.eta` event per change of the minute shown, carrying `near` the
    first time the ETA to the pickup drops below the threshold."""
    lat, lon, seen = before
    dt = ping["ts"] - seen if seen else 0.0
    moved = eta_rules.great_circle_m(lat, lon, ping["lat"], ping["lon"]) if seen else 0.0
    observed = eta_rules.observed_speed(ping.get("speed"), moved, dt)
    job["eta_speed"] = eta_rules.smoothed_speed(job.get("eta_speed"), observed, dt, model)
    stop = HEADING_FOR.get(job["status"])
    if stop is None or job.get(f"arrived_{stop}"):
        return []
    found = eta_rules.estimate(
        ping["lat"],
        ping["lon"],
        job[f"{stop}_lat"],
        job[f"{stop}_lon"],
        job["eta_speed"],
        model,
        ping.get("heading"),
    )
    job["eta_s"], job["eta_distance_m"], job["eta_stop"] = found.eta_s, found.distance_m, stop
    near = stop == "pickup" and not job.get("near_told") and eta_rules.crew_is_near(found, model)
    if not near and not eta_rules.worth_telling(job.get("eta_minutes"), found):
        return []
    job["eta_minutes"] = found.minutes
    job["near_told"] = job.get("near_told") or near
    return [
        {
            "type": "job.eta",
            "org_id": state.org_id,
            "ts": ping["ts"],
            "near": near,
            "data": {
                "booking_id": job["booking_id"],
                "driver_id": state.fleet.driver_ids[row],
                "eta_s": round(found.eta_s, 1),
                "distance_m": round(found.distance_m, 1),
                "stop": stop,
            },
        }
    ]


def _arrivals(
    state: OrgState, row: int, job: dict[str, Any], ping: dict[str, Any], geofence_m: float
) -> list[dict[str, Any]]:
    stop = HEADING_FOR.get(job["status"])
    if stop is None or job.get(f"arrived_{stop}"):
        return []
    distance_m = 1000 * float(haversine_km(ping["lat"], ping["lon"], job[f"{stop}_lat"], job[f"{stop}_lon"]))
    if distance_m > geofence_m:
        return []
    job[f"arrived_{stop}"] = True  # one event per stop
    return [
        {
            "type": "driver.arrived",
            "org_id": state.org_id,
            "driver_id": state.fleet.driver_ids[row],
            "booking_id": job["booking_id"],
            "stop": stop,
            "ts": ping["ts"],
        }
    ]


# What the shard learnt about a job from the pings, kept when the driver app sends the job again.
_LEARNT = ("eta_speed", "near_told")


def set_job(state: OrgState, driver_id: str, job: dict[str, Any] | None) -> None:
    row = state.driver_row.get(driver_id)
    if row is not None:
        old = state.live.job[row] or {}
        new = dict(job) if job else None
        if new is not None and old.get("booking_id") == new["booking_id"]:
            new.update({key: old[key] for key in _LEARNT if key in old})
        elif new is not None and "eta_speed" in old:
            new["eta_speed"] = old["eta_speed"]  # the same driver drives on at its pace
        state.live.job[row] = new


def snapshot(state: OrgState, now: float | None = None) -> dict[str, Any]:
    now = now or time.time()
    fleet, live = state.fleet, state.live

    def number(value: float) -> float | None:
        return None if np.isnan(value) else round(float(value), 2)

    return {
        "org_id": state.org_id,
        "drivers": [
            {
                "id": driver_id,
                "lat": float(fleet.lat[i]),
                "lon": float(fleet.lon[i]),
                "heading": number(live.heading[i]),
                "speed": number(live.speed[i]),
                "last_seen": float(live.last_seen[i]) or None,
                "online": bool(now - live.last_seen[i] < ONLINE_WITHIN_S),
                "eligible": bool(fleet.eligible[i]),
                "job": live.job[i],
            }
            for i, driver_id in enumerate(fleet.driver_ids)
        ],
        "trucks": [
            {
                "id": truck_id,
                "capacity_m3": float(fleet.truck_capacity[i]),
                "active": bool(fleet.truck_active[i]),
            }
            for i, truck_id in enumerate(fleet.truck_ids)
        ],
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


def due_alerts(state: OrgState, now: float, late_grace_s: float, offline: set[str]) -> list[dict[str, Any]]:
    """Alerts not raised yet: a driver gone silent (once until it pings again) and a job whose
    window started `late_grace_s` ago while its driver is not there (once per job)."""
    live, ids = state.live, state.fleet.driver_ids
    alerts: list[dict[str, Any]] = []
    silent = (live.last_seen > 0) & (now - live.last_seen >= ONLINE_WITHIN_S)
    for row in np.flatnonzero(silent).tolist():
        i = int(row)
        if ids[i] not in offline:
            offline.add(ids[i])
            alerts.append(
                {
                    "type": "alert.offline",
                    "org_id": state.org_id,
                    "ts": now,
                    "data": {"driver_id": ids[i], "last_seen": float(live.last_seen[i])},
                }
            )
    offline.difference_update([ids[i] for i in np.flatnonzero(~silent)])
    for i, job in enumerate(live.job):
        if (
            job is None
            or job.get("alerted_late")
            or job.get("status") not in DUE_AT_PICKUP
            or now < float(job.get("window_start") or now) + late_grace_s
        ):
            continue
        job["alerted_late"] = True
        alerts.append(
            {
                "type": "alert.late",
                "org_id": state.org_id,
                "ts": now,
                "data": {
                    "driver_id": ids[i],
                    "booking_id": job["booking_id"],
                    "status": job["status"],
                    "window_start": job["window_start"],
                },
            }
        )
    return alerts
