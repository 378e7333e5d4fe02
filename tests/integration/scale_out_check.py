"""Run in its own process by test_scale_out.py: two simulated Ray nodes, shards on both."""

from __future__ import annotations

import asyncio
import json
import sys

import ray
from ray.cluster_utils import Cluster

from actors.runtime import start_fleet
from persistence.config import get_settings


async def main() -> None:
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    settings = get_settings().model_copy(update={"ray_address": cluster.address,
                                                 "fleet_shards": 4})
    fleet = await start_fleet(settings)
    pings = await asyncio.gather(*(shard.ping.remote() for shard in fleet.shards))
    nodes = {p["node"] for p in pings}
    print(json.dumps({"nodes": len(ray.nodes()), "shard_nodes": len(nodes),
                      "shards": len(pings)}))
    ray.shutdown()
    cluster.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
