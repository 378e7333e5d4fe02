"""The run command as a new user types it: `bash scripts/run.sh` with the shipped defaults (the
`movehub` database, Redis db 0, local Ray), and the live loop it promises: within 120 s of
the server being ready, simulated drivers take a job from en_route to completed, and the
demo organizations' boards (the printed link's among them) receive `assignment.created`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
from sqlalchemy.engine import make_url
from websockets.asyncio.client import ClientConnection, connect

from dispatch.auth.tokens import issue_access_token
from gateway.seed import MOVERS
from persistence.config import Settings
from persistence.session import Caller
from tests.e2e.conftest import ARTIFACTS, ROOT, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.ray]

# Setup (uv sync, migrations), seeding, Ray and the shards on a loaded machine: not the
# figure under test, only a bound so a hung start fails instead of blocking the suite.
START_TIMEOUT_S = 300.0
DEMO_WINDOW_S = 120.0
BOARD_LINK = re.compile(r"(http://\S+)/board\?token=([\w.-]+)")


def shipped_environment() -> dict[str, str]:
    """This environment without the test session's settings: the subprocess must see the
    defaults a new user gets (the conftest points MOVEHUB_* at the test database and turns
    Ray's `uv run` runtime env off)."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("MOVEHUB_") and name not in ("RAY_ADDRESS", "RAY_ENABLE_UV_RUN_RUNTIME_ENV")
    }


def shipped_database_dsn() -> str:
    """The default database, opened as the admin role (reads every org's rows, no RLS)."""
    defaults = Settings.model_fields
    database = make_url(str(defaults["database_url"].default)).database
    return (
        make_url(str(defaults["admin_database_url"].default))
        .set(database=database)
        .render_as_string(hide_password=False)
    )


@dataclass
class RunCommand:
    """`bash scripts/run.sh` in its own process group, its output teed to a log."""

    port: int
    log: Path
    lines: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["bash", "scripts/run.sh", "--port", str(self.port)],
            cwd=ROOT,
            env=shipped_environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        threading.Thread(target=self._tee, daemon=True).start()

    def _tee(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        with self.log.open("w") as sink:
            for raw in self.process.stdout:
                line = raw.decode(errors="replace")
                self.lines.append(line)
                sink.write(line)
                sink.flush()

    def output(self) -> str:
        return "".join(self.lines)

    def board_link(self) -> tuple[str, str]:
        """(base URL, token) of the printed board link, once the server is ready."""
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            found = BOARD_LINK.search(self.output())
            if found:
                return found.group(1), found.group(2)
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(
            f"no board link within {START_TIMEOUT_S:.0f} s "
            f"(exit {self.process.poll()}):\n{self.output()[-4000:]}"
        )

    def stop(self) -> None:
        """SIGTERM to the whole group (run.sh, uv, movehub up, serve, Ray, the simulator),
        then SIGKILL whatever is still there."""
        if self.process is None:
            return
        group = self.process.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGTERM)
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline and _group_alive(group):
            time.sleep(0.5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
        self.process.wait(timeout=30)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def run_command() -> Iterator[RunCommand]:
    ARTIFACTS.mkdir(exist_ok=True)
    command = RunCommand(port=free_port(), log=ARTIFACTS / "run-command.log")
    try:
        yield command
    finally:
        command.stop()
        if command.process is not None:
            assert not _group_alive(command.process.pid), "processes left behind"


# Per booking, what its history since the test started shows: assigned (the simulator's
# auto-assign), worked (any status a driver set), and a round trip (a driver set en_route
# and, later, completed: a job taken up and finished within the window).
_PROGRESS = """
SELECT count(*) FILTER (WHERE assigned) AS assigned, count(*) FILTER (WHERE worked) AS worked,
       count(*) FILTER (WHERE completed) AS completed,
       count(*) FILTER (WHERE started AND completed) AS round_trips
FROM (SELECT booking_id,
             bool_or(to_status = 'assigned') AS assigned,
             bool_or(actor_role = 'driver') AS worked,
             bool_or(actor_role = 'driver' AND to_status = 'en_route') AS started,
             bool_or(actor_role = 'driver' AND to_status = 'completed') AS completed
      FROM booking_status_history WHERE created_at >= $1 GROUP BY booking_id) AS per_booking
"""


async def driver_progress(db: asyncpg.Connection, since: datetime) -> dict[str, int]:
    """Bookings assigned, worked on by drivers, completed, and taken from en_route to
    completed, since `since` (their status-history rows)."""
    row = await db.fetchrow(_PROGRESS, since)
    assert row is not None
    return {name: int(row[name]) for name in ("assigned", "worked", "completed", "round_trips")}


async def follow_board(socket: ClientConnection, since_ts: float, seen: set[str]) -> None:
    """Collect the booking ids of `assignment.created` events stamped after `since_ts`."""
    heartbeat = asyncio.create_task(keep_alive(socket))
    try:
        async for raw in socket:
            frame: dict[str, Any] = orjson.loads(raw)
            for event in frame.get("events", []) if frame.get("type") == "events" else []:
                if event.get("kind") == "assignment.created" and event.get("ts", 0) >= since_ts:
                    seen.add(str(event["data"].get("booking_id")))
    finally:
        heartbeat.cancel()


async def keep_alive(socket: ClientConnection) -> None:
    """The board protocol closes a silent client (4408): heartbeat as the board page does."""
    while True:
        await asyncio.sleep(15)
        await socket.send(orjson.dumps({"type": "heartbeat"}).decode())


def simulator_summary(output: str) -> dict[str, int]:
    """The simulator's own final counts, from the table it prints when it stops."""
    counts: dict[str, int] = {}
    for name in ("jobs received", "jobs completed", "auto-assigned"):
        found = re.findall(rf"{name}\D*?(\d+)", output)
        if found:
            counts[name] = int(found[-1])
    return counts


async def board_tokens(db: asyncpg.Connection) -> list[str]:
    """A dispatcher's access token for every demo organization, minted as
    gateway.seed.demo_board_token does but with the shipped settings (not the test
    session's): each org's board, since any of them may be the one that gets new work."""
    rows = await db.fetch(
        "SELECT u.id, u.org_id FROM users u JOIN organizations o ON o.id = u.org_id "
        "WHERE u.role = 'dispatcher' AND o.code = ANY($1::text[])",
        [code for _, code, _, _ in MOVERS],
    )
    shipped = Settings.model_construct()
    return [
        issue_access_token(Caller(role="dispatcher", user_id=row["id"], org_id=row["org_id"]), shipped)
        for row in rows
    ]


async def test_run_command_delivers_jobs_and_board_events(run_command: RunCommand) -> None:
    # The server's clock, from its admin database: on a fresh clone `movehub` does not exist
    # until the run command's setup creates it.
    admin = await asyncpg.connect(str(Settings.model_fields["admin_database_url"].default))
    started_at: datetime = await admin.fetchval("SELECT now()")
    await admin.close()
    started_ts = time.time()
    run_command.start()
    base_url, printed_token = await asyncio.to_thread(run_command.board_link)
    assert base_url == f"http://127.0.0.1:{run_command.port}"
    ready = time.monotonic()
    db = await asyncpg.connect(shipped_database_dsn())
    try:
        tokens = [printed_token, *await board_tokens(db)]
        assigned: set[str] = set()
        async with contextlib.AsyncExitStack() as boards:
            followers = []
            for token in tokens:
                board = await boards.enter_async_context(
                    connect(
                        f"{base_url.replace('http', 'ws', 1)}/ws/board?since=0",
                        max_size=None,
                        additional_headers={"Authorization": f"Bearer {token}"},
                    )
                )
                followers.append(asyncio.create_task(follow_board(board, started_ts, assigned)))
            # Until the loop has gone round once (a job worked, one taken from en_route to
            # completed, an assignment on a board), within the window a new user waits.
            while True:
                for follower in followers:
                    assert not follower.done(), follower.exception()
                progress = await driver_progress(db, started_at)
                elapsed = time.monotonic() - ready
                done = progress["worked"] >= 1 and progress["round_trips"] >= 1 and bool(assigned)
                if done or elapsed >= DEMO_WINDOW_S:
                    break
                await asyncio.sleep(2)
            for follower in followers:
                follower.cancel()
            await asyncio.gather(*followers, return_exceptions=True)
    finally:
        await db.close()
    run_command.stop()
    summary = simulator_summary(run_command.output())
    print(
        f"\nrun command, {elapsed:.0f} s after ready: bookings {progress}; boards' "
        f"assignment.created {len(assigned)}; simulator summary at stop {summary}"
    )
    tail = run_command.output()[-3000:]
    assert progress["worked"] >= 1, f"no driver worked on a job: {progress}\n{tail}"
    assert progress["round_trips"] >= 1, f"no job went en_route -> completed: {progress}\n{tail}"
    assert assigned, f"no board saw an assignment.created: {progress}\n{tail}"
