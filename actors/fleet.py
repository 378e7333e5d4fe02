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

import numpy as np
import ray
from shapely.geometry import Point

from actors.fleet_state import OrgState, load_orgs, note_busy, shard_of
from actors.live import apply_pings, carry_live_state, set_job, snapshot
from dispatch.assignment.matching import cost_matrix, greedy, optimal
from dispatch.assignment.scoring import Job, Weights, haversine_km, rank, skill_mask
from dispatch.pricing import quote
from persistence.config import get_settings


def job_from(spec: dict[str, Any]) -> Job:
    return Job(pickup_lat=spec["pickup_lat"], pickup_lon=spec["pickup_lon"],
               start=spec["start"], end=spec["end"], volume_m3=spec["volume_m3"],
               required_skills=skill_mask(spec.get("required_skills") or ["driver"]))


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
        """Optimal matching of the jobs onto the org's drivers, and the greedy baseline."""
        state = await self._org(org_id)
        if state is None or not specs:
            return {"pairs": [], "deadhead_km": 0.0, "greedy_deadhead_km": 0.0,
                    "unassigned": list(range(len(specs)))}
        jobs = [job_from(s) for s in specs]
        matrix = cost_matrix(state.fleet, jobs, self.weights)
        best, baseline = optimal(matrix), greedy(matrix)
        trucks_taken: set[int] = set()
        pairs = []
        for j, d in best.pairs:
            truck = self._truck_for(state, jobs[j], trucks_taken)
            if truck is None:
                continue
            pairs.append({"job": j, "driver_id": state.fleet.driver_ids[d],
                          "truck_id": state.fleet.truck_ids[truck],
                          "deadhead_km": round(float(matrix[j, d]), 3)})
        done = {p["job"] for p in pairs}
        return {"pairs": pairs, "deadhead_km": best.deadhead_km,
                "greedy_deadhead_km": baseline.deadhead_km,
                "unassigned": [j for j in range(len(jobs)) if j not in done]}

    @staticmethod
    def _truck_for(state: OrgState, job: Job, taken: set[int]) -> int | None:
        fleet = state.fleet
        ok = fleet.truck_active & (fleet.truck_capacity >= job.volume_m3)
        ok &= ~fleet.truck_busy.blocked(len(fleet.truck_ids), job.start, job.end, 0.0)
        for t in np.flatnonzero(ok)[np.argsort(fleet.truck_capacity[ok], kind="stable")]:
            if int(t) not in taken:
                taken.add(int(t))
                return int(t)
        return None

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

    async def loaded_since(self) -> float:
        return self.loaded_at

