"""A real gateway process for tests: uvicorn as `movehub serve` runs it, on a free port, its
output in test-artifacts/<name>.log (a file, never a pipe nobody reads: a gateway logging an
outage would block on a full pipe and never stop), ready when /readyz answers 200.

With share_ray the gateway joins the test session's Ray (RAY_ADDRESS) under a namespace of
its own instead of starting a local Ray (tens of seconds on a loaded 2-core machine); its
detached actors (fleet directory and shards, scheduler) are killed when it stops, so nothing
it started outlives it, as with a Ray of its own.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from gateway.cli import ws_keepalive
from persistence.config import get_settings

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
READY_TIMEOUT_S = 150.0
STOP_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:] if log.exists() else ""


def wait_ready(
    base_url: str, server: subprocess.Popen[bytes], log: Path, timeout_s: float = READY_TIMEOUT_S
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the gateway exited with {server.returncode}:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(f"{base_url}/readyz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the gateway was not ready in {timeout_s:.0f} s:\n{_tail(log)}")


def stop(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as a service manager stops it; killed if it does not end in time."""
    server.terminate()
    try:
        server.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
        raise RuntimeError(f"the gateway did not stop within {STOP_TIMEOUT_S:.0f} s of SIGTERM") from None


def session_ray_env(name: str) -> dict[str, str]:
    """RAY_ADDRESS of this process's Ray and a namespace of the gateway's own; {} when this
    process runs no Ray (MOVEHUB_RAY_ENABLED=false, or no test asked for the session app)."""
    import ray

    if not ray.is_initialized():
        return {}
    return {
        "RAY_ADDRESS": ray.get_runtime_context().gcs_address,
        "MOVEHUB_RAY_NAMESPACE": f"{get_settings().ray_namespace}-{name}-{uuid.uuid4().hex[:8]}",
    }


def kill_namespace(namespace: str) -> None:
    """Every named actor left in `namespace` (detached ones outlive the process that made them)."""
    import ray

    for named in ray.util.list_named_actors(all_namespaces=True):
        if named["namespace"] == namespace:
            with suppress(ValueError):  # gone meanwhile
                ray.kill(ray.get_actor(named["name"], namespace=namespace), no_restart=True)


@dataclass
class _Spawned:
    server: subprocess.Popen[bytes]
    base_url: str
    log: Path
    namespace: str | None  # of the session's Ray, when joined


def _spawn(env: dict[str, str] | None, name: str, port: int | None, share_ray: bool) -> _Spawned:
    port = port or free_port()
    base_url = f"http://127.0.0.1:{port}"
    keepalive = ws_keepalive(get_settings())
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / f"{name}.log"
    joined = session_ray_env(name) if share_ray else {}
    full_env = {**os.environ, "MOVEHUB_PUBLIC_BASE_URL": base_url, **joined, **(env or {})}
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "gateway.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--loop",
                "uvloop",
                "--ws",
                "websockets-sansio",
                "--ws-per-message-deflate",
                "false",
                "--ws-ping-interval",
                str(keepalive["ws_ping_interval"]),
                "--ws-ping-timeout",
                str(keepalive["ws_ping_timeout"]),
                "--timeout-graceful-shutdown",
                "10",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=full_env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    return _Spawned(server, base_url, log, joined.get("MOVEHUB_RAY_NAMESPACE"))


def _stop_all(spawned: list[_Spawned]) -> None:
    """Each stopped (SIGTERM) and its Ray namespace cleared, even when another fails to stop."""
    with ExitStack() as stack:
        for one in spawned:
            if one.namespace is not None:
                stack.callback(kill_namespace, one.namespace)
            stack.callback(stop, one.server)


@contextmanager
def running_gateway(
    env: dict[str, str] | None = None,
    *,
    name: str = "gateway",
    port: int | None = None,
    share_ray: bool = False,
    ready_timeout_s: float = READY_TIMEOUT_S,
) -> Iterator[str]:
    """A gateway with this process's environment plus `env`; yields its http base URL.
    share_ray: it joins this process's Ray, if one runs, instead of starting its own."""
    spawned = _spawn(env, name, port, share_ray)
    try:
        wait_ready(spawned.base_url, spawned.server, spawned.log, ready_timeout_s)
        yield spawned.base_url
    finally:
        _stop_all([spawned])


@contextmanager
def running_gateways(specs: list[tuple[dict[str, str], str]]) -> Iterator[list[str]]:
    """Several gateways, each (env, name) as running_gateway takes them, started at once
    (their imports and start-up overlap) and ready before this yields their base URLs."""
    spawned: list[_Spawned] = []
    try:
        for env, name in specs:
            spawned.append(_spawn(env, name, None, False))
        for one in spawned:
            wait_ready(one.base_url, one.server, one.log)
        yield [one.base_url for one in spawned]
    finally:
        _stop_all(spawned)
