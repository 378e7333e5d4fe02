"""Start or join Ray and hand the gateway a handle on the fleet shards."""

from __future__ import annotations

import asyncio

import ray

from persistence.config import Settings


def init_ray(settings: Settings) -> None:
    """Join RAY_ADDRESS when set; otherwise start a local Ray sized for this machine."""
    if ray.is_initialized():
        return
    if settings.ray_address:
        ray.init(address=settings.ray_address, namespace=settings.ray_namespace,
                 log_to_driver=False)
    else:
        ray.init(namespace=settings.ray_namespace, include_dashboard=False,
                 log_to_driver=False, configure_logging=False)


class Fleet:
    """The gateway's handle on the Ray side (the dispatch issue grows it into the shard pool)."""

    async def ping(self) -> None:
        await asyncio.to_thread(ray.cluster_resources)

    async def close(self) -> None:
        return None


async def start_fleet(settings: Settings) -> Fleet:
    await asyncio.to_thread(init_ray, settings)
    return Fleet()
