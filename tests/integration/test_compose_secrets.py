"""docker-compose.yml: every secret is required from the environment, none is written in the file.

With the generated env file (scripts/compose-env.sh) the config validates and the API's own
environment passes the production refusal; without any one secret it fails, naming it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from persistence.config import Settings, insecure_settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
EXAMPLE = ROOT / "compose.env.example"
REQUIRED = re.compile(r"\$\{([A-Z_][A-Z0-9_]*):\?")
SECRET_KEY = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY|AUTH(?!_MODE)", re.IGNORECASE)  # a mode is no secret
URL_PASSWORD = re.compile(r"://[^/:@\s]*:([^@\s]+)@")
REFERENCE = re.compile(r"\$\{[A-Z_][A-Z0-9_]*(:\?[^}]*|:-)?\}")
REQUIRED_REFERENCE = re.compile(r"\$\{[A-Z_][A-Z0-9_]*:\?[^}]*\}")

needs_compose = pytest.mark.skipif(
    shutil.which("docker-compose") is None, reason="docker-compose is not installed (setup.sh installs it)"
)


def required_variables() -> set[str]:
    return set(REQUIRED.findall(COMPOSE.read_text()))


def generated_env() -> dict[str, str]:
    script = subprocess.run(
        ["bash", str(ROOT / "scripts" / "compose-env.sh")], capture_output=True, text=True, check=True
    )
    return dict(line.split("=", 1) for line in script.stdout.splitlines())


def compose_config(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`docker-compose config` with exactly these variables (none from the caller's shell)."""
    env_file = tmp_path / "compose.env"
    env_file.write_text("".join(f"{name}={value}\n" for name, value in env.items()))
    shell = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "DOCKER_HOST")}
    return subprocess.run(
        ["docker-compose", "--env-file", str(env_file), "-f", str(COMPOSE), "config"],
        capture_output=True,
        text=True,
        env=shell,
        cwd=tmp_path,
    )


def test_the_example_and_the_generator_cover_every_required_variable() -> None:
    assert required_variables() >= {
        "POSTGRES_PASSWORD",
        "APP_DB_PASSWORD",
        "OWNER_DB_PASSWORD",
        "REDIS_PASSWORD",
        "MOVEHUB_JWT_SECRET",
        "MOVEHUB_DIGEST_SECRET",
        "MOVEHUB_STORAGE_SIGNING_SECRET",
        "MOVEHUB_STRIPE_WEBHOOK_SECRET",
    }
    generated = generated_env()
    assert required_variables() <= set(generated)
    assert all(re.fullmatch(r"[0-9a-f]{64}", value) for value in generated.values())
    assert generated != generated_env()  # random each time, not a value kept somewhere


def _scalars(node: Any, key: str = "") -> list[tuple[str, str]]:
    if isinstance(node, dict):
        return [pair for k, v in node.items() for pair in _scalars(v, str(k))]
    if isinstance(node, list):
        return [pair for item in node for pair in _scalars(item, key)]
    return [(key, str(node))]


def test_no_literal_secret_is_written_in_the_compose_file() -> None:
    text = COMPOSE.read_text()
    assert "trust" not in text  # POSTGRES_HOST_AUTH_METHOD=trust would make passwords moot
    for key, value in _scalars(yaml.safe_load(text)):
        if SECRET_KEY.search(key):
            assert REFERENCE.fullmatch(value), f"{key}: {value!r} is not a ${{VAR}} reference"
        # Every password in a URL is a required variable, nothing else.
        for password in URL_PASSWORD.findall(REQUIRED_REFERENCE.sub("<required>", value)):
            assert password == "<required>", f"{key}: a URL with a literal password"
    requirepass = text.split("--requirepass", 1)[1].split("]", 1)[0]
    assert REQUIRED.search(requirepass)


@needs_compose
def test_config_validates_with_generated_secrets_and_passes_the_refusal(tmp_path: Path) -> None:
    env = generated_env()
    answer = compose_config(env, tmp_path)
    assert answer.returncode == 0, answer.stderr
    api = yaml.safe_load(answer.stdout)["services"]["api"]["environment"]
    assert api["MOVEHUB_ENVIRONMENT"] == "production"
    settings = Settings(
        **{
            name.removeprefix("MOVEHUB_").lower(): value
            for name, value in api.items()
            if name.startswith("MOVEHUB_")
        }
    )
    assert insecure_settings(settings) == []
    assert env["APP_DB_PASSWORD"] in api["MOVEHUB_DATABASE_URL"]


@needs_compose
@pytest.mark.parametrize("missing", sorted(required_variables()))
def test_config_without_a_secret_fails_naming_it(missing: str, tmp_path: Path) -> None:
    env = {name: value for name, value in generated_env().items() if name != missing}
    answer = compose_config(env, tmp_path)
    assert answer.returncode != 0
    assert f"set {missing}" in answer.stderr, answer.stderr


@needs_compose
def test_the_example_file_as_it_is_does_not_start(tmp_path: Path) -> None:
    empty = {
        line.split("=", 1)[0]: "" for line in EXAMPLE.read_text().splitlines() if re.match(r"[A-Z_]+=", line)
    }
    assert set(empty) >= required_variables()
    answer = compose_config(empty, tmp_path)
    assert answer.returncode != 0 and "Missing mandatory value" in answer.stderr
