"""The fleet directory: the one writer of the slot-to-shard table, and what scales the shards.

One named, detached actor per Ray cluster (`fleet-directory`). Every process that talks to
the shards (gateway replicas, the outbox worker, the scheduler) reads the table from here and
caches it with its version, so an organization is routed alike whatever machine asks.

Why the table lives in the Ray cluster and not in PostgreSQL: it names Ray actors, and those
die with the cluster. Kept in Ray's own key-value store (GCS), beside the actors it names, a
restarted directory finds it again, and a new cluster never inherits a stale table naming
shards that no longer exist.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import ray
import structlog
from ray.experimental import internal_kv

from actors.fleet import FleetShard, ShardConfig
from actors.slots import SHARD_RESOURCE, shard_name

log = structlog.get_logger("movehub.fleet.directory")
SHARD_START_TIMEOUT_S = 120.0  # a shard waiting for a node (the autoscaler adds one)


def shard_nodes() -> list[str]:
    """Alive nodes offering the shard resource; the head only when it is the only one (it
    runs the gateway and the cluster's control plane)."""
    nodes = [
        n
        for n in ray.nodes()  # type: ignore[no-untyped-call]
        if n.get("Alive") and n.get("Resources", {}).get(SHARD_RESOURCE, 0) > 0
    ]
    workers = [n for n in nodes if "node:__internal_head__" not in n.get("Resources", {})]
    return sorted(n["NodeID"] for n in (workers or nodes))


def even_targets(counts: dict[int, int], keep: list[int], slots: int) -> dict[int, int]:
    """How many slots each kept shard should own: as even as possible, the extra slots going
    to shards that own most already (fewer moves). Removed shards get none."""
    base, extra = divmod(slots, len(keep))
    ranked = sorted(keep, key=lambda s: (-counts.get(s, 0), s))
    targets = {s: base + (1 if i < extra else 0) for i, s in enumerate(ranked)}
    return {s: targets.get(s, 0) for s in {*counts, *keep}}


def plan_moves(owner: list[int], targets: dict[int, int]) -> list[tuple[int, int, list[int]]]:
    """(from shard, to shard, slots): the fewest slots moved to reach the targets, one batch
    per pair of shards."""
    by_shard: dict[int, list[int]] = {s: [] for s in targets}
    for slot, shard in enumerate(owner):
        by_shard.setdefault(shard, []).append(slot)
    surplus = [(s, slot) for s, owned in sorted(by_shard.items()) for slot in owned[targets.get(s, 0) :]]
    moves: dict[tuple[int, int], list[int]] = {}
    for shard in sorted(targets):
        for _ in range(targets[shard] - len(by_shard[shard])):
            source, slot = surplus.pop()
            moves.setdefault((source, shard), []).append(slot)
    return [(src, dst, sorted(slots)) for (src, dst), slots in sorted(moves.items())]


@ray.remote(num_cpus=0, max_restarts=-1)
class FleetDirectory:
    def __init__(
        self,
        slots: int,
        initial_shards: int,
        namespace: str,
        rebalance_interval_s: float = 0.0,
        *,
        shard_config: ShardConfig,
    ) -> None:
        self.slots, self.initial_shards, self.namespace = slots, initial_shards, namespace
        self.shard_config = shard_config  # what every shard it creates is given
        self.rebalance_interval_s = rebalance_interval_s
        self.version, self.next_id = 0, 0
        self.owner: list[int] = []  # slot -> shard id
        self.shards: dict[int, Any] = {}  # shard id -> actor handle
        self.nodes: dict[int, str] = {}  # shard id -> node id
        self._lock = asyncio.Lock()  # one change of the table at a time
        self._started: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._kv_key = f"movehub:{namespace}:fleet-directory"
        self.started_at = time.time()
        # Read at once, not in _start: a shard restarting beside a restarted directory asks
        # slots_of before anything else has woken the directory up.
        saved = internal_kv._internal_kv_get(self._kv_key)
        if saved:
            state = json.loads(saved)
            self.version, self.next_id = state["version"], state["next_id"]
            self.owner = state["owner"]

    # --- the table -------------------------------------------------------------------

    async def _ready(self) -> None:
        if self._started is None:
            self._started = asyncio.ensure_future(self._start())
            if self.rebalance_interval_s > 0:  # restarted with the directory, too
                self._watcher = asyncio.ensure_future(self._watch())
        await self._started

    async def _watch(self) -> None:
        """Rebalance whenever a shard node without a shard shows up (a node that joined)."""
        while True:
            await asyncio.sleep(self.rebalance_interval_s)
            try:
                await self._ready()
                if set(shard_nodes()) - set(self.nodes.values()):
                    await self.rebalance()
            except Exception:  # a node that left mid-way: the next round tries again
                log.exception("fleet.rebalance_failed")

    async def _start(self) -> None:
        if self.owner:  # this directory restarted: the shards are still there
            for shard_id in sorted(set(self.owner)):
                self.shards[shard_id] = ray.get_actor(shard_name(shard_id), namespace=self.namespace)
            await self._locate(list(self.shards))
            return
        ids = [self._create_shard() for _ in range(self.initial_shards)]
        self.owner = [ids[slot % len(ids)] for slot in range(self.slots)]
        self.version = 1
        self._save()
        await self._locate(ids)

    def _save(self) -> None:
        internal_kv._internal_kv_put(
            self._kv_key, json.dumps({"version": self.version, "next_id": self.next_id, "owner": self.owner})
        )

    async def table(self) -> dict[str, Any]:
        await self._ready()
        return {
            "version": self.version,
            "owner": list(self.owner),
            "handles": {s: self.shards[s] for s in set(self.owner)},
        }

    async def slots_of(self, shard_id: int) -> tuple[list[int], int]:
        """Asked by a shard as it (re)starts; answered without waiting for _ready, since the
        first start waits for the shards themselves."""
        return [slot for slot, s in enumerate(self.owner) if s == shard_id], self.version

    async def incarnation(self) -> float:
        """When this directory process started (tests see a restart by it)."""
        return self.started_at

    async def describe(self) -> dict[str, Any]:
        """The table between changes (a scale in progress is waited out)."""
        await self._ready()
        async with self._lock:
            return {
                "version": self.version,
                "slots": self.slots,
                "shards": {
                    s: {"slots": self.owner.count(s), "node": self.nodes.get(s)} for s in sorted(self.shards)
                },
            }

    # --- shards ----------------------------------------------------------------------

    def _create_shard(self, node: str | None = None) -> int:
        """A new shard actor, on `node` when given (soft), else the least loaded shard node."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        shard_id, self.next_id = self.next_id, self.next_id + 1
        node = node or self._least_loaded_node()
        strategy = NodeAffinitySchedulingStrategy(node, soft=True) if node else "DEFAULT"
        self.shards[shard_id] = FleetShard.options(  # type: ignore[attr-defined]
            name=shard_name(shard_id),
            namespace=self.namespace,
            get_if_exists=True,
            lifetime="detached",
            resources={SHARD_RESOURCE: 1},
            scheduling_strategy=strategy,
        ).remote(shard_id, self.slots, self.shard_config)
        if node:
            self.nodes[shard_id] = node  # provisional, confirmed by _locate
        return shard_id

    def _least_loaded_node(self) -> str | None:
        nodes = shard_nodes()
        load = {n: 0 for n in nodes}
        for node in self.nodes.values():
            if node in load:
                load[node] += 1
        return min(nodes, key=lambda n: (load[n], n)) if nodes else None

    async def _locate(self, ids: list[int]) -> None:
        """Wait until these shards run (their state built), and note where they run."""
        answers = await asyncio.wait_for(
            asyncio.gather(*(self.shards[s].ping.remote() for s in ids)), SHARD_START_TIMEOUT_S
        )
        for shard_id, answer in zip(ids, answers, strict=True):
            self.nodes[shard_id] = answer["node"]

    # --- scaling ---------------------------------------------------------------------

    async def scale(self, count: int, hold_s: float = 0.0) -> dict[str, Any]:
        """Run `count` shards: new ones on the least loaded nodes, slots moved evenly; shards
        removed hand their slots back first, then are killed. `hold_s` (a test hook) keeps
        each move's slots held that much longer, so callers are sure to meet a move."""
        if not 1 <= count <= self.slots:
            raise ValueError(f"shards must be between 1 and {self.slots}, not {count}")
        await self._ready()
        async with self._lock:
            current = sorted(self.shards)
            added = [self._create_shard() for _ in range(count - len(current))]
            removed = self._removals(len(current) - count)
            return await self._settle(added, removed, hold_s)

    async def rebalance(self) -> dict[str, Any]:
        """Give every shard node without a shard (one that joined since) a new shard, then
        even out the slots."""
        await self._ready()
        async with self._lock:
            busy = set(self.nodes.values())
            added = [self._create_shard(node) for node in shard_nodes() if node not in busy]
            return await self._settle(added, [])

    def _removals(self, how_many: int) -> list[int]:
        """Shards to remove: from the nodes holding most shards, newest first."""
        chosen: list[int] = []
        for _ in range(max(0, how_many)):
            load: dict[str | None, list[int]] = {}
            for s in sorted(set(self.shards) - set(chosen)):
                load.setdefault(self.nodes.get(s), []).append(s)
            chosen.append(max(load.values(), key=lambda ids: (len(ids), max(ids)))[-1])
        return chosen

    async def _settle(self, added: list[int], removed: list[int], hold_s: float = 0.0) -> dict[str, Any]:
        started = time.perf_counter()
        if added:
            await self._locate(added)
        keep = [s for s in sorted(self.shards) if s not in removed]
        counts = {s: self.owner.count(s) for s in self.shards}
        moves = [
            await self._move(src, dst, slots, hold_s)
            for src, dst, slots in plan_moves(self.owner, even_targets(counts, keep, self.slots))
        ]
        for shard_id in removed:
            ray.kill(self.shards.pop(shard_id), no_restart=True)
            self.nodes.pop(shard_id, None)
        self._save()
        pauses = [m["pause_ms"] for m in moves]
        report = {
            "version": self.version,
            "shards": len(self.shards),
            "added": added,
            "removed": removed,
            "moves": moves,
            "max_pause_ms": max(pauses, default=0.0),
            "seconds": round(time.perf_counter() - started, 3),
        }
        log.info("fleet.scaled", **{k: v for k, v in report.items() if k != "moves"})
        return report

    async def _move(self, src: int, dst: int, slots: list[int], hold_s: float = 0.0) -> dict[str, Any]:
        """Hand `slots` from shard src to dst. The pause, from the hold on the old owner to
        its release, is when these slots' organizations cannot be answered."""
        old, new = self.shards[src], self.shards[dst]
        held = time.perf_counter()
        handed = old.hand_over.remote(slots)  # passed on as a reference: old -> new directly
        try:
            orgs = await new.take_over.remote(slots, handed, self.version + 1)
        except Exception:
            await old.call_off.remote(slots)
            raise
        await asyncio.sleep(hold_s)
        self.version += 1
        for slot in slots:
            self.owner[slot] = dst
        self._save()
        await old.let_go.remote(slots, self.version)
        pause_ms = round((time.perf_counter() - held) * 1000, 2)
        log.info(
            "fleet.slots_moved",
            source=src,
            target=dst,
            slots=len(slots),
            orgs=orgs,
            version=self.version,
            pause_ms=pause_ms,
        )
        return {
            "from": src,
            "to": dst,
            "slots": len(slots),
            "orgs": orgs,
            "version": self.version,
            "pause_ms": pause_ms,
        }
