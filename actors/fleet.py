"""FleetShard: one long-lived Ray actor hosting many organizations' drivers and trucks.

Each organization is a virtual actor (an OrgState with its own columns) living in the shard.
Handlers mutate an org's columns only between awaits, so every message applies atomically,
one at a time, and whole questions — rank, offers, plan — are answered in one call.
State is a cache: on start and after a restart it is rebuilt from PostgreSQL.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import ray
from shapely.geometry import Point

from actors.fleet_state import OrgState, load_orgs, note_busy, shard_of
from actors.live import apply_pings, carry_live_state, due_alerts, set_job, snapshot
from dispatch.assignment.chaining import plan_jobs
from dispatch.assignment.scoring import Job, Weights, haversine_km, rank, skill_mask
from dispatch.pricing import quote
from persistence.config import get_settings


def job_from(spec: dict[str, Any]) -> Job:
    return Job(pickup_lat=spec["pickup_lat"], pickup_lon=spec["pickup_lon"],
               start=spec["start"], end=spec["end"], volume_m3=spec["volume_m3"],
               required_skills=skill_mask(spec.get("required_skills") or ["driver"]),
               dropoff_lat=spec.get("dropoff_lat"), dropoff_lon=spec.get("dropoff_lon"))


def weights_from_settings() -> Weights:
    s = get_settings()
    return Weights(distance=s.weight_distance, rating=s.weight_rating,
                   fairness=s.weight_fairness, idle=s.weight_idle, speed_kmh=s.average_speed_kmh)


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=3)
class FleetShard:
    def __init__(self, index: int, shards: int) -> None:
        self.index, self.shards = index, shards
        self.orgs: dict[str, OrgState] = {}
        self.weights = weights_from_settings()
        self._loaded: asyncio.Task[None] | None = None
        self.loaded_at = 0.0
        self.offline: dict[str, set[str]] = {}  # drivers already reported offline, per org

    async def _ready(self) -> None:
        if self._loaded is None:
            self._loaded = asyncio.ensure_future(self._rebuild())
        await self._loaded

    async def _rebuild(self) -> None:
        self.orgs = await load_orgs(self.index, self.shards)
        self.loaded_at = time.time()

    async def ping(self) -> dict[str, Any]:
        await self._ready()
        return {"shard": self.index, "orgs": len(self.orgs),
                "drivers": sum(len(o.fleet.driver_ids) for o in self.orgs.values()),
                "node": ray.get_runtime_context().get_node_id()}

    async def refresh_org(self, org_id: str) -> None:
        await self._ready()
        if shard_of(org_id, self.shards) != self.index:
            return
        fresh = await load_orgs(self.index, self.shards, org_id)
        old = self.orgs.pop(org_id, None)
        if org_id in fresh:
            self.orgs[org_id] = fresh[org_id]
            if old is not None:
                carry_live_state(old, fresh[org_id])

    async def _org(self, org_id: str) -> OrgState | None:
        """The org's state; an org this shard has not seen yet (created since the last
        rebuild) is loaded on first use."""
        await self._ready()
        if org_id not in self.orgs:
            await self.refresh_org(org_id)
        return self.orgs.get(org_id)

    async def state_of(self, org_id: str) -> dict[str, Any]:
        """A comparable summary of an organization's state (tests compare it with the DB)."""
        state = await self._org(org_id)
        if state is None:
            return {}
        fleet = state.fleet
        return {"drivers": sorted(fleet.driver_ids), "trucks": sorted(fleet.truck_ids),
                "busy": sorted(zip([fleet.driver_ids[i] for i in fleet.driver_busy.owner],
                                   fleet.driver_busy.start.tolist(),
                                   fleet.driver_busy.end.tolist(), strict=True))}

    async def rank(self, org_id: str, spec: dict[str, Any], limit: int = 5) -> list[dict[str, Any]]:
        state = await self._org(org_id)
        if state is None:
            return []
        return [c.__dict__ for c in rank(state.fleet, job_from(spec), self.weights, limit)]

    async def note_assignment(self, org_id: str, driver_id: str, truck_id: str, start: float,
                              end: float, end_lat: float, end_lon: float) -> None:
        await self._ready()
        state = self.orgs.get(org_id)
        if state is not None:
            note_busy(state, driver_id, truck_id, start, end, end_lat, end_lon)

    async def offers(self, spec: dict[str, Any]) -> list[dict[str, Any]]:
        """Every organization of this shard able to take the move, with its price."""
        await self._ready()
        job = job_from(spec)
        pickup = Point(spec["pickup_lon"], spec["pickup_lat"])
        distance = float(haversine_km(spec["pickup_lat"], spec["pickup_lon"],
                                      spec["dropoff_lat"], spec["dropoff_lon"]))
        found = []
        for state in self.orgs.values():
            if not state.verified or not state.area.contains(pickup):
                continue
            best = rank(state.fleet, job, self.weights, limit=1)
            if not best:
                continue
            price = quote(state.pricing, distance, spec["volume_m3"], spec["crew_size"],
                          self.weights.speed_kmh)
            travel_s = best[0].breakdown["deadhead_km"] / self.weights.speed_kmh * 3600
            found.append({
                "org_id": state.org_id, "name": state.name, "rating": state.rating,
                "price_cents": price.total_cents, "currency": price.currency,
                "distance_km": price.distance_km,
                "earliest_start": max(job.start, time.time() + travel_s),
                "deadhead_km": best[0].breakdown["deadhead_km"],
            })
        return found

    async def plan(self, org_id: str, specs: list[dict[str, Any]]) -> dict[str, Any]:
        """The org's day plan (optimal matching, or VROOM chains when drivers must take
        several jobs in a row) and the greedy baseline for the same input."""
        state = await self._org(org_id)
        if state is None or not specs:
            return {"pairs": [], "deadhead_km": 0.0, "greedy_deadhead_km": 0.0,
                    "method": "matching", "greedy_assigned": 0,
                    "unassigned": list(range(len(specs)))}
        settings = get_settings()
        day = plan_jobs(state.fleet, [job_from(s) for s in specs], self.weights,
                        max_drivers=settings.plan_chain_max_drivers,
                        time_limit_s=settings.plan_chain_time_limit_s)
        fleet = state.fleet
        return {"pairs": [{"job": p.job, "driver_id": fleet.driver_ids[p.driver],
                           "truck_id": fleet.truck_ids[p.truck], "deadhead_km": p.deadhead_km}
                          for p in day.pairs],
                "method": day.method, "deadhead_km": day.deadhead_km,
                "greedy_deadhead_km": day.greedy_deadhead_km,
                "greedy_assigned": day.greedy_assigned, "unassigned": day.unassigned}

    async def ingest_pings(self, pings: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A batch of location pings (one call per shard per flush, never one per ping)."""
        await self._ready()
        for org_id in {str(p["org_id"]) for p in pings} - self.orgs.keys():
            await self._org(org_id)
        return apply_pings(self.orgs, pings, get_settings().geofence_radius_m)

    async def set_driver_job(self, org_id: str, driver_id: str,
                             job: dict[str, Any] | None) -> None:
        state = await self._org(org_id)
        if state is not None:
            set_job(state, driver_id, job)

    async def snapshot(self, org_id: str) -> dict[str, Any]:
        state = await self._org(org_id)
        return snapshot(state) if state is not None else {"org_id": org_id, "drivers": [],
                                                          "trucks": []}

    async def sweep_alerts(self, late_grace_s: float) -> list[dict[str, Any]]:
        """Offline and running-late alerts raised since the last sweep (each exactly once)."""
        await self._ready()
        now = time.time()
        return [alert for org_id, state in self.orgs.items()
                for alert in due_alerts(state, now, late_grace_s,
                                        self.offline.setdefault(org_id, set()))]

    async def loaded_since(self) -> float:
        return self.loaded_at

