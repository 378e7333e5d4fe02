"""Start or join Ray and hand the gateway a handle on the fleet shards.

The gateway asks one question per call: a rank goes to the organization's shard; offers fan
out to every shard at once (one call each, gathered); nothing is ever sent per driver.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any

import ray

from actors.fleet import FleetShard
from actors.fleet_state import shard_of
from persistence.config import Settings, get_settings, worker_environment


def init_ray(settings: Settings) -> None:
    """Join RAY_ADDRESS when set; otherwise start a local Ray sized for this machine."""
    if ray.is_initialized():
        return
    runtime_env = {"env_vars": worker_environment()}
    if settings.ray_address:
        ray.init(address=settings.ray_address, namespace=settings.ray_namespace,
                 log_to_driver=False, runtime_env=runtime_env)
    else:
        # Ray starts workers at nice 15; the shards hold the live fleet state every ping and
        # every assignment waits on, so on a busy machine they must not queue behind the
        # gateway (inherited by the raylet this starts; ray_cluster.yaml sets it for clusters).
        os.environ.setdefault("RAY_worker_niceness", "0")
        # One machine: actor logs (the outbox's "email.logged" lines, say) reach this console.
        ray.init(namespace=settings.ray_namespace, include_dashboard=False,
                 log_to_driver=True, configure_logging=False, runtime_env=runtime_env)


def shard_name(index: int) -> str:
    return f"fleet-shard-{index}"


def _spread(index: int) -> Any:
    """Shard i goes to alive node i mod n (soft: anywhere if that node is gone). SPREAD alone
    is best effort and packs zero-CPU actors onto one node when the others report late."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = sorted(n["NodeID"] for n in ray.nodes() if n.get("Alive"))  # type: ignore[no-untyped-call]
    if len(nodes) < 2:
        return "SPREAD"
    return NodeAffinitySchedulingStrategy(node_id=nodes[index % len(nodes)], soft=True)


def shard_handles(settings: Settings) -> list[Any]:
    """The named shard actors, created on first use and shared by every gateway replica;
    round-robin over the cluster's nodes."""
    return [
        FleetShard.options(  # type: ignore[attr-defined]
            name=shard_name(i), namespace=settings.ray_namespace, get_if_exists=True,
            lifetime="detached", scheduling_strategy=_spread(i),
        ).remote(i, settings.fleet_shards)
        for i in range(settings.fleet_shards)
    ]


class Fleet:
    """The gateway's handle on the fleet shards."""

    def __init__(self, settings: Settings, shards: list[Any]) -> None:
        self.settings = settings
        self.shards = shards
        self.ingest_calls = 0  # remote ingest calls made, one per shard per batch

    def shard_index(self, org_id: uuid.UUID | str) -> int:
        return shard_of(org_id, len(self.shards))

    def shard_for(self, org_id: uuid.UUID | str) -> Any:
        return self.shards[self.shard_index(org_id)]

    async def ping(self) -> None:
        await asyncio.gather(*(shard.ping.remote() for shard in self.shards))

    async def rank(self, org_id: uuid.UUID, spec: dict[str, Any],
                   limit: int = 5) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.shard_for(org_id).rank.remote(
            str(org_id), spec, limit)
        return result

    async def offers(self, spec: dict[str, Any]) -> list[dict[str, Any]]:
        answers = await asyncio.gather(*(shard.offers.remote(spec) for shard in self.shards))
        return [offer for answer in answers for offer in answer]

    async def plan(self, org_id: uuid.UUID, specs: list[dict[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = await self.shard_for(org_id).plan.remote(str(org_id), specs)
        return result

    async def note_assignment(self, org_id: uuid.UUID, driver_id: uuid.UUID,
                              truck_id: uuid.UUID, start: float, end: float, end_lat: float,
                              end_lon: float) -> None:
        await self.shard_for(org_id).note_assignment.remote(
            str(org_id), str(driver_id), str(truck_id), start, end, end_lat, end_lon)

    async def refresh_org(self, org_id: uuid.UUID) -> None:
        await self.shard_for(org_id).refresh_org.remote(str(org_id))

    async def ingest(self, pings: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Location pings grouped by shard: one call per shard, all shards at once."""
        by_shard: dict[int, list[dict[str, Any]]] = {}
        for ping in pings:
            by_shard.setdefault(self.shard_index(ping["org_id"]), []).append(ping)
        self.ingest_calls += len(by_shard)
        answers = await asyncio.gather(*(self.shards[i].ingest_pings.remote(batch)
                                         for i, batch in by_shard.items()))
        return [event for answer in answers for event in answer]

    async def set_driver_job(self, org_id: uuid.UUID, driver_id: uuid.UUID,
                             job: dict[str, Any] | None) -> None:
        await self.shard_for(org_id).set_driver_job.remote(str(org_id), str(driver_id), job)

    async def snapshot(self, org_id: uuid.UUID) -> dict[str, Any]:
        result: dict[str, Any] = await self.shard_for(org_id).snapshot.remote(str(org_id))
        return result

    async def sweep_alerts(self, late_grace_s: float) -> list[dict[str, Any]]:
        answers = await asyncio.gather(*(shard.sweep_alerts.remote(late_grace_s)
                                         for shard in self.shards))
        return [alert for answer in answers for alert in answer]

    async def close(self) -> None:
        """Shards outlive a gateway replica (detached); they die with the Ray cluster."""


async def start_fleet(settings: Settings) -> Fleet:
    await asyncio.to_thread(init_ray, settings)
    shards = await asyncio.to_thread(shard_handles, settings)
    fleet = Fleet(settings, shards)
    await fleet.ping()  # build every shard's state before serving
    return fleet


def notify_fleet_changed(org_id: uuid.UUID) -> None:
    """From any process connected to Ray: the org's shard reloads it from the database."""
    settings = get_settings()
    shard = ray.get_actor(shard_name(shard_of(org_id, settings.fleet_shards)),
                          namespace=settings.ray_namespace)
    shard.refresh_org.remote(str(org_id))
