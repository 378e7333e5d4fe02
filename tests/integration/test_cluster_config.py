"""ray_cluster.yaml through Ray's own cluster launcher code: the steps `ray up` takes before it
starts a machine (prepare, validate, the AWS provider's bootstrap against moto's EC2/IAM).

The roles stay apart: the head keeps its cores for the gateway, only the shard worker type
offers fleet_shard, and set-up installs the Python environment, never PostgreSQL or Redis.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import boto3
import jsonschema
import pytest
import yaml
from ray.autoscaler._private.commands import _bootstrap_config
from ray.autoscaler._private.util import prepare_config, validate_config

from actors.slots import SHARD_RESOURCE
from tests.peers.moto_server import (
    ACCESS_KEY,
    REGION,
    SECRET_KEY,
    moto_endpoint_fixture,  # noqa: F401 - registers the fixture
)

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "ray_cluster.yaml"
NODE_SETUP = ROOT / "scripts" / "setup-node.sh"
# The start command of the old file: `: ` inside an unquoted item makes it a YAML mapping.
UNQUOTED_RESOURCES = """- ray stop
- RAY_worker_niceness=0 ray start --address=$RAY_HEAD_IP:6379 --resources='{"fleet": 4}'
"""


def _raw() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(CONFIG.read_text())
    return config


def _prepared(config: dict[str, Any] | None = None) -> dict[str, Any]:
    """As `ray up` does: defaults of the provider filled in, then Ray's schema and checks."""
    prepared = prepare_config(config if config is not None else _raw())
    validate_config(prepared)
    return prepared


def _worker_types(config: dict[str, Any]) -> dict[str, Any]:
    return {
        name: node_type
        for name, node_type in config["available_node_types"].items()
        if name != config["head_node_type"]
    }


def test_ray_validator_accepts_the_launcher_config() -> None:
    config = _prepared()
    assert config["provider"]["type"] != "local"  # local refuses available_node_types
    assert set(_worker_types(config)) == {"shard_worker"}


def test_ray_validator_refuses_an_unquoted_resources_command() -> None:
    config = _raw()
    config["worker_start_ray_commands"] = yaml.safe_load(UNQUOTED_RESOURCES)
    with pytest.raises(jsonschema.ValidationError, match="is not of type 'string'"):
        _prepared(config)


def test_the_head_reserves_its_cores_for_the_gateway() -> None:
    config = _prepared()
    head = config["available_node_types"][config["head_node_type"]]
    # The launcher passes the node type's resources to `ray start`, over its flags: both say 0.
    assert head["resources"].get("CPU") == 0
    assert SHARD_RESOURCE not in head["resources"]
    assert head["max_workers"] == 0
    start = " ".join(config["head_start_ray_commands"])
    assert "--head" in start and "--num-cpus=0" in start
    assert "RAY_worker_niceness=0" in start


def test_shard_workers_offer_fleet_shard_and_scale_within_bounds() -> None:
    config = _prepared()
    workers = config["available_node_types"]["shard_worker"]
    assert workers["resources"][SHARD_RESOURCE] >= 1  # what each shard actor asks one of
    assert 1 <= workers["min_workers"] <= workers["max_workers"] <= config["max_workers"]
    assert config["idle_timeout_minutes"] > 0
    assert "RAY_worker_niceness=0" in " ".join(config["worker_start_ray_commands"])


def test_every_node_starts_ray_with_the_auth_token() -> None:
    config = _prepared()
    assert config["file_mounts"]["~/.ray/auth_token"] == "~/.ray/auth_token"
    for commands in ("head_start_ray_commands", "worker_start_ray_commands"):
        start = next(c for c in config[commands] if " ray start" in c or "/ray start" in c)
        assert "RAY_AUTH_MODE=token" in start  # a joining worker never turns it on by itself


def test_node_setup_installs_only_the_python_environment() -> None:
    config = _prepared()
    # After the provider's defaults are merged: nothing of Ray's AWS defaults (pip on the
    # system Python) is left, and every node runs only setup-node.sh.
    for commands in ("head_setup_commands", "worker_setup_commands"):
        assert config[commands] == ["bash ~/movehub/scripts/setup-node.sh"]
    every_command = " ".join(
        config[key] if isinstance(config[key], str) else " ".join(config[key])
        for key in config
        if key.endswith("_commands")
    )
    assert "scripts/setup.sh" not in every_command
    script = "\n".join(
        line for line in NODE_SETUP.read_text().splitlines() if not line.lstrip().startswith("#")
    )
    assert "uv sync --frozen" in script
    for local_service in ("setup.sh", "bootstrap", "postgres", "redis", "pg_ctl"):
        assert local_service not in script.lower(), local_service
    subprocess.run(["bash", "-n", str(NODE_SETUP)], check=True)


def _account_where_ray_ran_before(endpoint_url: str) -> None:
    """Ray's instance profile with its role, so bootstrap skips its 15 s IAM propagation waits."""
    iam = boto3.client(
        "iam",
        region_name=REGION,
        endpoint_url=endpoint_url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    if any(
        p["InstanceProfileName"] == "ray-autoscaler-v1"
        for p in iam.list_instance_profiles()["InstanceProfiles"]
    ):
        return
    iam.create_role(RoleName="ray-autoscaler-v1", AssumeRolePolicyDocument="{}")
    iam.create_instance_profile(InstanceProfileName="ray-autoscaler-v1")
    iam.add_role_to_instance_profile(InstanceProfileName="ray-autoscaler-v1", RoleName="ray-autoscaler-v1")


def test_aws_bootstrap_resolves_the_config(
    moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ray up` up to launching the head: key pair, subnets, security group and the instance
    types' resources from EC2 (moto's, over HTTP). The head's CPU 0 survives the detection."""
    monkeypatch.setenv("HOME", str(tmp_path))  # Ray writes the new key pair under ~/.ssh
    credentials = {
        "endpoint_url": moto_endpoint,
        "aws_access_key_id": ACCESS_KEY,
        "aws_secret_access_key": SECRET_KEY,
    }
    _account_where_ray_ran_before(moto_endpoint)
    config = _raw()
    config["provider"]["region"] = REGION
    config["provider"]["aws_credentials"] = credentials
    resolved = _bootstrap_config(config, no_config_cache=True)
    head = resolved["available_node_types"][resolved["head_node_type"]]
    workers = resolved["available_node_types"]["shard_worker"]
    assert head["resources"]["CPU"] == 0
    assert workers["resources"][SHARD_RESOURCE] == 4
    assert workers["resources"]["CPU"] >= 1  # detected from the instance type
    for node_type in (head, workers):
        assert node_type["node_config"]["SecurityGroupIds"]
        assert node_type["node_config"]["SubnetIds"]
    assert Path(resolved["auth"]["ssh_private_key"]).is_relative_to(tmp_path)
