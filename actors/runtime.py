"""Start or join Ray and hand the gateway a handle on the fleet shards.

The gateway asks one question per call: a rank goes to the organization's shard; offers fan
out to every shard at once (one call each, gathered); nothing is ever sent per driver.
Routing goes through the fleet directory's slot table (actors/directory.py), cached here with
its version; a shard that no longer owns a slot answers Moved and the call is sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import ray
import structlog
from ray.exceptions import RayActorError

from actors.directory import FleetDirectory
from actors.fleet import ShardConfig
from actors.slots import DIRECTORY_NAME, SHARD_RESOURCE, Moved, SlotTable
from dispatch.errors import Unavailable
from persistence import metrics
from persistence.config import Settings, get_settings, worker_environment
from persistence.telemetry import carrier, traced

log = structlog.get_logger("movehub.fleet")
MAX_SENDS = 8  # a call follows at most this many Moved answers (one per table change)
LOCAL_SHARD_SLOTS = 64  # the local Ray's fleet_shard resource: room for that many shards
LOCAL_START_ATTEMPTS = 3  # a local Ray that timed out starting is tried again, twice


def init_ray(settings: Settings) -> None:
    """Join RAY_ADDRESS when set; otherwise start a local Ray sized for this machine."""
    if ray.is_initialized():
        return
    runtime_env = {"env_vars": worker_environment()}
    if settings.ray_address:
        ray.init(
            address=settings.ray_address,
            namespace=settings.ray_namespace,
            log_to_driver=False,
            runtime_env=runtime_env,
        )
    else:
        # Ray starts workers at nice 15; the shards hold the live fleet state every ping and
        # every assignment waits on, so on a busy machine they must not queue behind the
        # gateway (inherited by the raylet this starts; ray_cluster.yaml sets it for clusters).
        os.environ.setdefault("RAY_worker_niceness", "0")
        # One machine: actor logs (the outbox's "email.logged" lines, say) reach this console.
        # address="local": always a new Ray of our own, never one that `ray start` left
        # running on this machine (ray.init's default would join it).
        for attempt in range(1, LOCAL_START_ATTEMPTS + 1):
            before = _ray_children()
            try:
                ray.init(
                    address="local",
                    namespace=settings.ray_namespace,
                    include_dashboard=False,
                    log_to_driver=True,
                    configure_logging=False,
                    runtime_env=runtime_env,
                    resources={SHARD_RESOURCE: LOCAL_SHARD_SLOTS},
                )
                return
            except Exception as exc:
                # Ray waits a fixed 30 s for its raylet to register; on a machine that is busy
                # (a cold start beside other work) the node agent may take longer. The half-
                # started processes are stopped and the start is tried again.
                if "timed out during startup" not in str(exc) or attempt == LOCAL_START_ATTEMPTS:
                    raise
                log.warning("ray.local_start_retry", attempt=attempt, error=str(exc))
                ray.shutdown()
                _stop_children(_ray_children() - before)


def _ray_children() -> set[int]:
    """This process's child processes that are Ray's (gcs_server, raylet, its agents), from
    /proc (empty where there is none)."""
    me, found = os.getpid(), set[int]()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                parent = int(stat.read().rsplit(b")", 1)[1].split()[1])
            if parent != me:
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                command = cmdline.read()
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile, or not ours to read
        if b"ray" in command:
            found.add(int(entry))
    return found


def _stop_children(pids: set[int]) -> None:
    """Kill what a failed local start left running: ray.shutdown() stops only the processes
    of a node that finished starting, so each timed-out attempt would leave its GCS, raylet
    and agents behind."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    for pid in pids:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, 0)


def start_local_head(settings: Settings) -> str:
    """Start this machine's local Ray here (as init_ray does) and return the address other
    processes join it by (`serve --workers N`: the supervisor calls this, its workers join)."""
    init_ray(settings)
    address: str = ray.get_runtime_context().gcs_address
    return address


def directory_handle(settings: Settings) -> Any:
    """The cluster's one fleet directory, created by whichever process asks first."""
    return FleetDirectory.options(  # type: ignore[attr-defined]
        name=DIRECTORY_NAME,
        namespace=settings.ray_namespace,
        get_if_exists=True,
        lifetime="detached",
    ).remote(
        settings.fleet_slots,
        settings.fleet_shards,
        settings.ray_namespace,
        settings.fleet_rebalance_interval_s,
        shard_config=ShardConfig.of(settings),
    )


def _table(answer: dict[str, Any]) -> SlotTable:
    return SlotTable(answer["version"], answer["owner"], answer["handles"])


@dataclass
class RouteStats:
    """What routing cost the callers: Moved answers followed, table reads, and the longest
    time one call took when it had to follow a move (the pause as a caller sees it)."""

    moved: int = 0
    refreshes: int = 0
    max_wait_ms: float = 0.0
    waits_ms: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))

    def waited(self, started: float) -> None:
        ms = (time.perf_counter() - started) * 1000
        self.waits_ms.append(round(ms, 2))
        self.max_wait_ms = max(self.max_wait_ms, ms)


class Fleet:
    """The gateway's handle on the fleet shards, through a cached slot table."""

    def __init__(self, settings: Settings, directory: Any, table: SlotTable) -> None:
        self.settings, self.directory = settings, directory
        self.table = table
        self._route: dict[str, int] = {}  # org id -> shard id: one dict lookup per ping
        self.ingest_calls = 0  # remote ingest calls made, one per shard per batch
        self.stats = RouteStats()

    @property
    def version(self) -> int:
        return self.table.version

    @property
    def shards(self) -> list[Any]:
        return [self.table.handles[s] for s in sorted(self.table.handles)]

    def shard_id(self, org_id: uuid.UUID | str) -> int:
        key = str(org_id)
        shard = self._route.get(key)
        if shard is None:
            shard = self._route[key] = self.table.shard_id(key)
        return shard

    def shard_for(self, org_id: uuid.UUID | str) -> Any:
        return self.table.handles[self.shard_id(org_id)]

    async def refresh(self, at_least: int = 0, since: int | None = None) -> bool:
        """Read the table again (until it reaches `at_least`: a move commits its version a
        moment after the old owner says so); whether it is now newer than `since` (the
        version a failed call used; another call may have refreshed meanwhile)."""
        since = self.table.version if since is None else since
        deadline = time.monotonic() + self.settings.fleet_move_wait_s
        while True:
            self.stats.refreshes += 1
            try:
                table = _table(await self.directory.table.remote())
            except RayActorError:  # the directory restarting: it finds its table again
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)
                continue
            if table.version >= at_least or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.005)
        if table.version > self.table.version:
            self.table, self._route = table, {}
        return self.table.version > since

    async def _send(self, org_id: uuid.UUID | str, method: str, *args: Any) -> Any:
        """One org-routed call, following Moved answers to the slot's new owner."""
        with metrics.SHARD_CALL.labels(method).time():
            return await self._send_routed(org_id, method, *args)

    async def _send_routed(self, org_id: uuid.UUID | str, method: str, *args: Any) -> Any:
        started = time.perf_counter()
        for _ in range(MAX_SENDS):
            sent_with = self.version
            try:
                answer = await getattr(self.shard_for(org_id), method).remote(str(org_id), *args)
            except RayActorError:  # a shard removed by a scale-down, or crashed for good
                if not await self.refresh(since=sent_with):
                    raise
                continue
            if not isinstance(answer, Moved):
                return answer
            self.stats.moved += 1
            await self.refresh(answer.version)
            self.stats.waited(started)
        raise Unavailable("the fleet's slot table keeps changing; retry")

    async def _fan_out(self, method: str, *args: Any, keep_partial: bool) -> list[Any]:
        """Every shard at once; on Moved, the table is read again and all shards asked again
        (keep_partial: answers already given are kept, for calls that hand things out once)."""
        with metrics.SHARD_CALL.labels(method).time():
            return await self._fan_out_routed(method, *args, keep_partial=keep_partial)

    async def _fan_out_routed(self, method: str, *args: Any, keep_partial: bool) -> list[Any]:
        kept: list[Any] = []
        for _ in range(MAX_SENDS):
            shards, sent_with = self.shards, self.version
            answers = await asyncio.gather(
                *(getattr(s, method).remote(*args, self.version) for s in shards), return_exceptions=True
            )
            lists = [a for a in answers if isinstance(a, list)]
            moved = [a.version for a in answers if isinstance(a, Moved)]
            failed = [a for a in answers if isinstance(a, BaseException)]
            if keep_partial:
                kept += [item for answer in lists for item in answer]
            if not moved and not failed:
                return kept if keep_partial else [item for answer in lists for item in answer]
            if any(not isinstance(e, RayActorError) for e in failed):
                raise next(e for e in failed if not isinstance(e, RayActorError))
            self.stats.moved += len(moved)
            if not await self.refresh(max(moved, default=0), since=sent_with) and failed:
                raise failed[0]
        raise Unavailable("the fleet's slot table keeps changing; retry")

    async def ping(self) -> None:
        sent_with = self.version
        try:
            await asyncio.gather(*(shard.ping.remote() for shard in self.shards))
        except RayActorError:
            if not await self.refresh(since=sent_with):
                raise
            await asyncio.gather(*(shard.ping.remote() for shard in self.shards))

    # Each call carries the caller's trace context (None with tracing off) into the shard.
    @traced("fleet.rank", kind="client")
    async def rank(self, org_id: uuid.UUID, spec: dict[str, Any], limit: int = 5) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._send(org_id, "rank", spec, limit, carrier())
        return result

    @traced("fleet.offers", kind="client")
    async def offers(self, spec: dict[str, Any]) -> list[dict[str, Any]]:
        return await self._fan_out("offers", spec, carrier(), keep_partial=False)

    @traced("fleet.plan", kind="client")
    async def plan(self, org_id: uuid.UUID, specs: list[dict[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = await self._send(org_id, "plan", specs, carrier())
        return result

    async def refresh_org(self, org_id: uuid.UUID) -> None:
        """Reload the org in its shard now (tools and tests; services raise fleet.changed)."""
        await self._send(org_id, "refresh_org")

    async def state_of(self, org_id: uuid.UUID) -> dict[str, Any]:
        result: dict[str, Any] = await self._send(org_id, "state_of")
        return result

    @traced("fleet.ingest", kind="client")
    async def ingest(self, pings: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Location pings grouped by shard: one call per shard, all shards at once. Pings
        whose slot moved come back and go to the new owner, in order (the next flush waits)."""
        with metrics.SHARD_CALL.labels("ingest_pings").time():
            return await self._ingest(pings)

    async def _ingest(self, pings: list[dict[str, Any]]) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        started, trace = time.perf_counter(), carrier()
        for _ in range(MAX_SENDS):
            sent_with = self.version
            by_shard: dict[int, list[dict[str, Any]]] = {}
            route = self._route
            for ping in pings:
                shard = route.get(ping["org_id"])
                if shard is None:
                    shard = self.shard_id(ping["org_id"])
                by_shard.setdefault(shard, []).append(ping)
            self.ingest_calls += len(by_shard)
            batches = list(by_shard.values())
            answers = await asyncio.gather(
                *(self.table.handles[s].ingest_pings.remote(b, trace) for s, b in by_shard.items()),
                return_exceptions=True,
            )
            pings, newest = [], 0
            for batch, answer in zip(batches, answers, strict=True):
                if isinstance(answer, RayActorError):
                    pings += batch  # a removed shard: the table names its successor
                elif isinstance(answer, BaseException):
                    raise answer
                else:
                    events += answer["events"]
                    pings += answer["moved"]
                    newest = max(newest, answer["version"]) if answer["moved"] else newest
            if not pings:
                return events
            self.stats.moved += 1
            if not await self.refresh(newest, since=sent_with) and not newest:
                raise Unavailable("a fleet shard is gone and the slot table names no other")
            self.stats.waited(started)
        raise Unavailable("the fleet's slot table keeps changing; retry")

    async def set_driver_job(
        self, org_id: uuid.UUID, driver_id: uuid.UUID, job: dict[str, Any] | None
    ) -> None:
        await self._send(org_id, "set_driver_job", str(driver_id), job)

    async def snapshot(self, org_id: uuid.UUID) -> dict[str, Any]:
        result: dict[str, Any] = await self._send(org_id, "snapshot")
        return result

    async def sweep_alerts(self, late_grace_s: float) -> list[dict[str, Any]]:
        return await self._fan_out("sweep_alerts", late_grace_s, keep_partial=True)

    async def scale(self, shards: int, hold_s: float = 0.0) -> dict[str, Any]:
        """Run `shards` shard actors (the directory moves the slots); returns each move with
        its pause. hold_s: a test hook stretching each move (see FleetDirectory.scale)."""
        report: dict[str, Any] = await self.directory.scale.remote(shards, hold_s)
        await self.refresh(report["version"])
        return report

    async def rebalance(self) -> dict[str, Any]:
        """New shards on nodes that have none (joined since), slots evened out."""
        report: dict[str, Any] = await self.directory.rebalance.remote()
        await self.refresh(report["version"])
        return report

    async def describe(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.directory.describe.remote()
        return result

    async def close(self) -> None:
        """Shards outlive a gateway replica (detached); they die with the Ray cluster."""


async def start_fleet(settings: Settings) -> Fleet:
    await asyncio.to_thread(init_ray, settings)
    directory = await asyncio.to_thread(directory_handle, settings)
    fleet = Fleet(settings, directory, _table(await directory.table.remote()))
    await fleet.ping()  # build every shard's state before serving
    return fleet


async def administer_shards(
    settings: Settings, action: str, count: int | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`movehub shards`: scale to `count` shards, rebalance onto nodes without one, or just
    show; returns the change's report (each move with its pause) and the table after it."""
    await asyncio.to_thread(init_ray, settings)
    directory = await asyncio.to_thread(directory_handle, settings)
    report: dict[str, Any] = {}
    if action == "scale":
        report = await directory.scale.remote(count)
    elif action == "rebalance":
        report = await directory.rebalance.remote()
    return report, await directory.describe.remote()


_process_table: SlotTable | None = None  # the table a non-gateway process last read


def _tell_shard(org_id: uuid.UUID, method: str, *args: Any) -> None:
    """From any process connected to Ray (the outbox worker): one call to the org's shard,
    routed through the same slot table as the gateways, following Moved answers."""
    global _process_table
    settings = get_settings()
    trace = carrier()  # the delivering outbox row's trace (to_thread copies the context)
    if _process_table is None:
        _process_table = _table(ray.get(directory_handle(settings).table.remote()))
    for _ in range(MAX_SENDS):
        shard = _process_table.handle_for(org_id)
        try:
            answer = ray.get(
                getattr(shard, method).remote(str(org_id), *args, trace=trace),
                timeout=settings.fleet_move_wait_s * 3,
            )
        except RayActorError:  # a shard removed since this process read the table
            answer = None
        else:
            if not isinstance(answer, Moved):
                return
        _process_table = _table(ray.get(directory_handle(settings).table.remote()))
    log.warning("fleet.call_not_routed", org_id=str(org_id), method=method)


def notify_fleet_changed(org_id: uuid.UUID) -> None:
    """The outbox's `fleet.changed`: the org's shard reloads it from the database."""
    _tell_shard(org_id, "refresh_org")


def notify_assignment(
    org_id: uuid.UUID,
    driver_id: uuid.UUID,
    truck_id: uuid.UUID,
    start: float,
    end: float,
    end_lat: float,
    end_lon: float,
) -> None:
    """The outbox's `fleet.assignment_noted`: the org's shard marks the crew busy for the
    window (cheaper than a reload; the database's exclusion constraint stays the guard)."""
    _tell_shard(org_id, "note_assignment", str(driver_id), str(truck_id), start, end, end_lat, end_lon)
