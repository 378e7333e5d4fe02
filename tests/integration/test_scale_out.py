"""Scale-out: fleet shards on simulated Ray nodes (ray.cluster_utils.Cluster), a joining node.

Runs in a subprocess so the test session's own Ray stays untouched.
"""

import json
import os
import subprocess
import sys

import pytest

from persistence.config import get_settings


@pytest.mark.skipif(not get_settings().ray_enabled, reason="needs Ray")
def test_shards_avoid_the_head_and_a_joining_node_gets_one(database: str) -> None:
    env = {**os.environ, "RAY_ADDRESS": ""}
    result = subprocess.run(
        [sys.executable, "-m", "tests.integration.scale_out_check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary == {
        "nodes": 3,
        "shards_before": 2,
        "on_head": 0,
        "shard_nodes": 2,
        "shards": 3,
        "on_joined": 1,
        "slots": [85, 85, 86],
    }
