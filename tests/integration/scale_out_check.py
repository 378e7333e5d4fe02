"""Run in its own process by test_scale_out.py: simulated Ray nodes; shards avoid the head,
and a node that joins gets a shard and its share of the slots, by itself (the directory's
rebalance watcher)."""

from __future__ import annotations

import asyncio
import json
import sys
import time

import ray
from ray.cluster_utils import Cluster

from actors.runtime import start_fleet
from actors.slots import SHARD_RESOURCE
from persistence.config import get_settings

NODE = {"num_cpus": 1, "resources": {SHARD_RESOURCE: 4}}


async def main() -> None:
    cluster = Cluster(initialize_head=True, head_node_args=NODE)
    cluster.add_node(**NODE)
    cluster.wait_for_nodes()
    settings = get_settings().model_copy(
        update={"ray_address": cluster.address, "fleet_shards": 2, "fleet_rebalance_interval_s": 1.0}
    )
    fleet = await start_fleet(settings)
    head = next(n["NodeID"] for n in ray.nodes() if "node:__internal_head__" in n["Resources"])
    before = await asyncio.gather(*(shard.ping.remote() for shard in fleet.shards))
    joined = cluster.add_node(**NODE)
    cluster.wait_for_nodes()
    deadline = time.monotonic() + 120
    while (await fleet.describe())["version"] == 1 and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    await fleet.refresh()
    after = await asyncio.gather(*(shard.ping.remote() for shard in fleet.shards))
    print(
        json.dumps(
            {
                "nodes": len(ray.nodes()),
                "shards_before": len(before),
                "on_head": sum(p["node"] == head for p in before + after),
                "shard_nodes": len({p["node"] for p in after}),
                "shards": len(after),
                "on_joined": sum(p["node"] == joined.node_id for p in after),
                "slots": sorted(p["slots"] for p in after),
            }
        )
    )
    ray.shutdown()
    cluster.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
