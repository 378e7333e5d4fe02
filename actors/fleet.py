"""FleetShard: one long-lived Ray actor hosting many organizations' drivers and trucks.

Each organization is a virtual actor (an OrgState with its own columns) living in the shard.
Handlers mutate an org's columns only between awaits, so every message applies atomically,
one at a time, and whole questions — rank, offers, plan — are answered in one call.
State is a cache: on start and after a restart it is rebuilt from PostgreSQL, for the slots
the fleet directory says this shard owns (actors/slots.py). A call for an organization whose
slot is elsewhere answers `Moved(version)` rather than raising, so Ray never retries it.
"""

from __future__ import annotations

import asyncio
import pickle
import time
from dataclasses import dataclass, field
from typing import Any

import ray
from shapely.geometry import Point

from actors.fleet_state import OrgState, load_orgs, note_busy
from actors.live import ONLINE_WITHIN_S, apply_pings, carry_live_state, due_alerts, set_job, snapshot
from actors.slots import DIRECTORY_NAME, Moved, SlotOwnership
from dispatch.assignment.chaining import plan_jobs
from dispatch.assignment.scoring import Job, Weights, haversine_km, rank, skill_mask
from dispatch.pricing import quote
from dispatch.tracking.rules import EtaModel
from persistence import metrics
from persistence.config import Settings
from persistence.telemetry import environment as telemetry_environment
from persistence.telemetry import setup as setup_tracing
from persistence.telemetry import traced


def job_from(spec: dict[str, Any]) -> Job:
    return Job(
        pickup_lat=spec["pickup_lat"],
        pickup_lon=spec["pickup_lon"],
        start=spec["start"],
        end=spec["end"],
        volume_m3=spec["volume_m3"],
        required_skills=skill_mask(spec.get("required_skills") or ["driver"]),
        dropoff_lat=spec.get("dropoff_lat"),
        dropoff_lon=spec.get("dropoff_lon"),
    )


@dataclass(frozen=True, slots=True)
class ShardConfig:
    """The settings a shard works with, handed in at construction: a shard process has no app
    to ask, and Ray gives a restarted shard the same arguments again."""

    namespace: str
    move_wait_s: float
    weights: Weights
    geofence_m: float
    plan_chain_max_drivers: int
    plan_chain_time_limit_s: float
    eta: EtaModel = field(default_factory=EtaModel)
    telemetry: dict[str, str] = field(default_factory=dict)  # the creator's OTEL_* variables

    @classmethod
    def of(cls, settings: Settings) -> ShardConfig:
        s = settings
        return cls(
            namespace=s.ray_namespace,
            move_wait_s=s.fleet_move_wait_s,
            weights=Weights(
                distance=s.weight_distance,
                rating=s.weight_rating,
                fairness=s.weight_fairness,
                idle=s.weight_idle,
                speed_kmh=s.average_speed_kmh,
            ),
            geofence_m=s.geofence_radius_m,
            plan_chain_max_drivers=s.plan_chain_max_drivers,
            plan_chain_time_limit_s=s.plan_chain_time_limit_s,
            eta=EtaModel.of(
                s.eta_road_factor, s.eta_default_speed_kmh, s.eta_notify_minutes, s.geofence_radius_m
            ),
            telemetry=telemetry_environment(),
        )


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=3)
class FleetShard:
    def __init__(self, shard_id: int, slots: int, config: ShardConfig) -> None:
        setup_tracing("fleet-shard", config.telemetry)  # calls carry `trace`: continued here
        self.shard_id = shard_id
        self.config = config
        self.slots = SlotOwnership(slots, config.move_wait_s)
        self.orgs: dict[str, OrgState] = {}
        self.weights = config.weights
        self._loaded: asyncio.Task[None] | None = None
        self.loaded_at = 0.0
        self.offline: dict[str, set[str]] = {}  # drivers already reported offline, per org

    async def _ready(self) -> None:
        if self._loaded is None:
            self._loaded = asyncio.ensure_future(self._rebuild())
        try:
            await self._loaded
        except Exception:
            self._loaded = None  # the database or the directory was away: the next call retries
            raise

    async def _rebuild(self) -> None:
        # Asked on every (re)start: a restarted shard gets the slots it owns now, not the
        # ones it was created with.
        directory = ray.get_actor(DIRECTORY_NAME, namespace=self.config.namespace)
        owned, version = await directory.slots_of.remote(self.shard_id)
        self.slots.adopt(set(owned), version)
        self.orgs = await load_orgs(self.slots.owned, self.slots.slots)
        self.loaded_at = time.time()

    async def _own(self, org_id: str) -> Moved | None:
        await self._ready()
        return await self.slots.check(org_id)

    async def ping(self) -> dict[str, Any]:
        await self._ready()
        return {
            "shard": self.shard_id,
            "orgs": len(self.orgs),
            "slots": len(self.slots.owned),
            "drivers": sum(len(o.fleet.driver_ids) for o in self.orgs.values()),
            "version": self.slots.version,
            "node": ray.get_runtime_context().get_node_id(),
        }

    async def report_metrics(self) -> dict[str, Any]:
        """For the gateways' /metrics (persistence/metrics.py): drivers held and seen within
        the last minute, and this process's counters. Never waits for a (re)load."""
        now = time.time()
        return {
            "shard": self.shard_id,
            "loaded": self.loaded_at > 0,
            "orgs": len(self.orgs),
            "drivers": sum(len(o.fleet.driver_ids) for o in self.orgs.values()),
            "live": sum(int((now - o.live.last_seen < ONLINE_WITHIN_S).sum()) for o in self.orgs.values()),
            "samples": metrics.worker_samples(),
        }

    @traced("FleetShard.refresh_org", kind="server", parent="trace")
    async def refresh_org(self, org_id: str, trace: dict[str, str] | None = None) -> Moved | None:
        if (moved := await self._own(org_id)) is not None:
            return moved
        fresh = await load_orgs({self.slots.slot(org_id)}, self.slots.slots, org_id)
        if (moved := await self._own(org_id)) is not None:
            return moved  # the slot started moving while we read: the new owner reloads
        old = self.orgs.pop(org_id, None)
        if org_id in fresh:
            self.orgs[org_id] = fresh[org_id]
            if old is not None:
                carry_live_state(old, fresh[org_id])
        return None

    async def _org(self, org_id: str) -> OrgState | Moved | None:
        """The org's state; an org this shard has not seen yet (created since the last
        rebuild) is loaded on first use. No await between this and the caller's use."""
        if (moved := await self._own(org_id)) is not None:
            return moved
        if org_id not in self.orgs and (moved := await self.refresh_org(org_id)) is not None:
            return moved
        return self.orgs.get(org_id)

    async def state_of(self, org_id: str) -> dict[str, Any] | Moved:
        """A comparable summary of an organization's state (tests compare it with the DB)."""
        state = await self._org(org_id)
        if state is None or isinstance(state, Moved):
            return state or {}
        fleet, live = state.fleet, state.live
        return {
            "drivers": sorted(fleet.driver_ids),
            "trucks": sorted(fleet.truck_ids),
            "live": {
                d: (float(fleet.lat[i]), float(fleet.lon[i]), float(live.last_seen[i]), int(live.applied[i]))
                for i, d in enumerate(fleet.driver_ids)
            },
            "busy": sorted(
                zip(
                    [fleet.driver_ids[i] for i in fleet.driver_busy.owner],
                    fleet.driver_busy.start.tolist(),
                    fleet.driver_busy.end.tolist(),
                    strict=True,
                )
            ),
        }

    @traced("FleetShard.rank", kind="server", parent="trace")
    async def rank(
        self, org_id: str, spec: dict[str, Any], limit: int = 5, trace: dict[str, str] | None = None
    ) -> list[dict[str, Any]] | Moved:
        state = await self._org(org_id)
        if state is None or isinstance(state, Moved):
            return state or []
        return [c.__dict__ for c in rank(state.fleet, job_from(spec), self.weights, limit)]

    @traced("FleetShard.note_assignment", kind="server", parent="trace")
    async def note_assignment(
        self,
        org_id: str,
        driver_id: str,
        truck_id: str,
        start: float,
        end: float,
        end_lat: float,
        end_lon: float,
        trace: dict[str, str] | None = None,
    ) -> Moved | None:
        if (moved := await self._own(org_id)) is not None:
            return moved
        state = self.orgs.get(org_id)
        if state is not None:
            note_busy(state, driver_id, truck_id, start, end, end_lat, end_lon)
        return None

    @traced("FleetShard.offers", kind="server", parent="trace")
    async def offers(
        self, spec: dict[str, Any], trace: dict[str, str] | None, version: int
    ) -> list[dict[str, Any]] | Moved:
        """Every organization of this shard able to take the move, with its price; `version`
        is the caller's slot table (an older one may miss a shard: Moved)."""
        await self._ready()
        if (moved := await self.slots.check_all(version)) is not None:
            return moved
        job = job_from(spec)
        pickup = Point(spec["pickup_lon"], spec["pickup_lat"])
        distance = float(
            haversine_km(spec["pickup_lat"], spec["pickup_lon"], spec["dropoff_lat"], spec["dropoff_lon"])
        )
        found = []
        for state in self.orgs.values():
            if not state.verified or not state.area.contains(pickup):
                continue
            best = rank(state.fleet, job, self.weights, limit=1)
            if not best:
                continue
            price = quote(
                state.pricing, distance, spec["volume_m3"], spec["crew_size"], self.weights.speed_kmh
            )
            travel_s = best[0].breakdown["deadhead_km"] / self.weights.speed_kmh * 3600
            found.append(
                {
                    "org_id": state.org_id,
                    "name": state.name,
                    "rating": state.rating,
                    "price_cents": price.total_cents,
                    "currency": price.currency,
                    "distance_km": price.distance_km,
                    "earliest_start": max(job.start, time.time() + travel_s),
                    "deadhead_km": best[0].breakdown["deadhead_km"],
                }
            )
        return found

    @traced("FleetShard.plan", kind="server", parent="trace")
    async def plan(
        self, org_id: str, specs: list[dict[str, Any]], trace: dict[str, str] | None = None
    ) -> dict[str, Any] | Moved:
        """The org's day plan (optimal matching, or VROOM chains when drivers must take
        several jobs in a row) and the greedy baseline for the same input."""
        state = await self._org(org_id)
        if isinstance(state, Moved):
            return state
        if state is None or not specs:
            return {
                "pairs": [],
                "deadhead_km": 0.0,
                "greedy_deadhead_km": 0.0,
                "method": "matching",
                "greedy_assigned": 0,
                "unassigned": list(range(len(specs))),
            }
        day = plan_jobs(
            state.fleet,
            [job_from(s) for s in specs],
            self.weights,
            max_drivers=self.config.plan_chain_max_drivers,
            time_limit_s=self.config.plan_chain_time_limit_s,
        )
        fleet = state.fleet
        return {
            "pairs": [
                {
                    "job": p.job,
                    "driver_id": fleet.driver_ids[p.driver],
                    "truck_id": fleet.truck_ids[p.truck],
                    "deadhead_km": p.deadhead_km,
                }
                for p in day.pairs
            ],
            "method": day.method,
            "deadhead_km": day.deadhead_km,
            "greedy_deadhead_km": day.greedy_deadhead_km,
            "greedy_assigned": day.greedy_assigned,
            "unassigned": day.unassigned,
        }

    @traced("FleetShard.ingest_pings", kind="server", parent="trace")
    async def ingest_pings(
        self, pings: list[dict[str, Any]], trace: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """A batch of location pings (one call per shard per flush, never one per ping).
        Pings of a slot being handed over wait here until the handover ends and come back
        under "moved" with the new table version, for the caller to send to the new owner."""
        await self._ready()
        started = time.perf_counter()
        for org_id in {str(p["org_id"]) for p in pings} - self.orgs.keys():
            await self._org(org_id)
        geofence_m = self.config.geofence_m
        events, held = self._apply_owned(pings, geofence_m)
        if held:
            await asyncio.gather(*(self.slots.check(o) for o in {str(p["org_id"]) for p in held}))
            more, held = self._apply_owned(held, geofence_m)  # a called-off move stays here
            events += more
        shard = str(self.shard_id)
        metrics.SHARD_PINGS.labels(shard).inc(len(pings) - len(held))
        metrics.SHARD_INGEST.labels(shard).observe(time.perf_counter() - started)
        return {"events": events, "moved": held, "version": self.slots.version}

    def _apply_owned(
        self, pings: list[dict[str, Any]], geofence_m: float
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Apply the pings this shard answers for now; return their events and the others."""
        mine = [p for p in pings if self.slots.answers_for(str(p["org_id"]))]
        others = [p for p in pings if not self.slots.answers_for(str(p["org_id"]))]
        return apply_pings(self.orgs, mine, geofence_m, self.config.eta), others

    async def set_driver_job(self, org_id: str, driver_id: str, job: dict[str, Any] | None) -> Moved | None:
        state = await self._org(org_id)
        if isinstance(state, Moved):
            return state
        if state is not None:
            set_job(state, driver_id, job)
        return None

    async def snapshot(self, org_id: str) -> dict[str, Any] | Moved:
        state = await self._org(org_id)
        if isinstance(state, Moved):
            return state
        return snapshot(state) if state is not None else {"org_id": org_id, "drivers": [], "trucks": []}

    async def sweep_alerts(self, late_grace_s: float, version: int) -> list[dict[str, Any]] | Moved:
        """Offline and running-late alerts raised since the last sweep (each exactly once)."""
        await self._ready()
        if (moved := await self.slots.check_all(version)) is not None:
            return moved
        now = time.time()
        return [
            alert
            for org_id, state in self.orgs.items()
            for alert in due_alerts(state, now, late_grace_s, self.offline.setdefault(org_id, set()))
        ]

    async def loaded_since(self) -> float:
        return self.loaded_at

    # The handover of slots, driven by the fleet directory (actors/directory.py): hand_over
    # on the old owner, take_over on the new one, the table's new version, let_go on the old.

    async def hand_over(self, slots: list[int]) -> bytes:
        """Hold these slots (their calls wait from now on) and export their organizations'
        live state: positions, jobs in hand, busy windows, alerts already raised."""
        await self._ready()
        moving = set(slots)
        self.slots.hold(moving)  # no await from here to the return: the export is consistent
        orgs = {o: state for o, state in self.orgs.items() if self.slots.slot(o) in moving}
        # Pickled here, not left to Ray: Ray hands NumPy arrays over zero-copy, read-only.
        return pickle.dumps(
            {"orgs": orgs, "offline": {o: self.offline[o] for o in orgs if o in self.offline}}
        )

    async def take_over(self, slots: list[int], exported: bytes, version: int) -> int:
        await self._ready()
        handed = pickle.loads(exported)  # noqa: S301 (from a shard of this cluster)
        self.orgs.update(handed["orgs"])
        self.offline.update(handed["offline"])
        self.slots.adopt(set(slots), version)
        return len(handed["orgs"])

    async def let_go(self, slots: list[int], version: int) -> None:
        """The table now names the new owner: drop the state; held calls answer Moved."""
        gone = set(slots)
        for org_id in [o for o in self.orgs if self.slots.slot(o) in gone]:
            del self.orgs[org_id]
            self.offline.pop(org_id, None)
        self.slots.release(gone, version)

    async def call_off(self, slots: list[int]) -> None:
        """The handover failed before the table changed: keep the slots, serve them again."""
        self.slots.resume(set(slots))
