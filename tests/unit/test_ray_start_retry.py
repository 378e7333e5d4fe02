"""A local Ray start that times out is tried again, and what the failed attempt left running
(its GCS, raylet and agents: ray.shutdown() does not stop them) is killed first."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from actors import runtime
from persistence.config import get_settings


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")
def test_a_timed_out_start_is_cleaned_up_and_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[subprocess.Popen[bytes]] = []
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # not Ray's

    def init(**_: Any) -> None:
        # Stands in for a half-started node: a child process named like Ray's, then the timeout.
        started.append(
            subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "ray/gcs_server"])
        )
        if len(started) == 1:
            raise Exception("The current node timed out during startup. (raylet)")

    monkeypatch.setattr(runtime.ray, "is_initialized", lambda: False)
    monkeypatch.setattr(runtime.ray, "init", init)
    monkeypatch.setattr(runtime.ray, "shutdown", lambda: None)
    settings = get_settings().model_copy(update={"ray_address": ""})
    try:
        runtime.init_ray(settings)
        assert len(started) == 2  # tried again
        assert not _alive(started[0].pid)  # the failed attempt's process is gone
        assert _alive(started[1].pid) and _alive(bystander.pid)  # nothing else is touched
    finally:
        for process in (*started, bystander):
            process.kill()
            process.wait()


def test_another_failure_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def init(**_: Any) -> None:
        calls.append(1)
        raise RuntimeError("address already in use")

    monkeypatch.setattr(runtime.ray, "is_initialized", lambda: False)
    monkeypatch.setattr(runtime.ray, "init", init)
    with pytest.raises(RuntimeError, match="already in use"):
        runtime.init_ray(get_settings().model_copy(update={"ray_address": ""}))
    assert calls == [1]
