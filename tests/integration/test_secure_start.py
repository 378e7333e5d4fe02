"""Start-up refuses insecure secrets in production (create_app and a real uvicorn process)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from secrets import token_hex

import pytest

from gateway.app import create_app
from persistence.config import InsecureSettings, get_settings
from tests.conftest import TEST_DB
from tests.e2e.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 120.0
NAMED = ["MOVEHUB_JWT_SECRET", "MOVEHUB_DIGEST_SECRET", "MOVEHUB_STORAGE_SIGNING_SECRET",
         "MOVEHUB_STRIPE_WEBHOOK_SECRET", "MOVEHUB_DATABASE_URL", "MOVEHUB_OWNER_DATABASE_URL"]


def strong_environment() -> dict[str, str]:
    """Random secrets; role passwords too (the local server trusts loopback connections)."""
    return {
        "MOVEHUB_JWT_SECRET": token_hex(32), "MOVEHUB_DIGEST_SECRET": token_hex(32),
        "MOVEHUB_STORAGE_SIGNING_SECRET": token_hex(32),
        "MOVEHUB_STRIPE_WEBHOOK_SECRET": f"whsec_{token_hex(16)}",
        "MOVEHUB_DATABASE_URL":
            f"postgresql+asyncpg://movehub_app:{token_hex(16)}@127.0.0.1:5432/{TEST_DB}",
        "MOVEHUB_OWNER_DATABASE_URL":
            f"postgresql+asyncpg://movehub_owner:{token_hex(16)}@127.0.0.1:5432/{TEST_DB}",
    }


def test_create_app_refuses_the_shipped_secrets_in_production() -> None:
    with pytest.raises(InsecureSettings) as refused:
        create_app(get_settings().model_copy(update={"environment": "production"}))
    for name in NAMED:
        assert name in str(refused.value)


def test_create_app_starts_in_production_with_strong_secrets() -> None:
    strong = {name.removeprefix("MOVEHUB_").lower(): value
              for name, value in strong_environment().items()}
    app = create_app(get_settings().model_copy(update={"environment": "production", **strong}))
    assert app.state.settings.environment == "production"


def serve(extra: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    env = {**os.environ, "MOVEHUB_ENVIRONMENT": "production", "MOVEHUB_RAY_ENABLED": "false",
           "MOVEHUB_BACKGROUND_WORKERS": "false", **extra}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "gateway.app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return server, f"http://127.0.0.1:{port}"


def test_the_server_process_exits_naming_each_insecure_setting() -> None:
    server, _ = serve({})
    try:
        output, _ = server.communicate(timeout=START_TIMEOUT_S)
    finally:
        server.kill()
    assert server.returncode != 0
    assert "refusing to start in environment 'production'" in output
    for name in NAMED:
        assert name in output


def test_the_server_process_serves_with_strong_secrets(database: str) -> None:
    server, base_url = serve(strong_environment())
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert server.poll() is None, server.communicate()[0][-4000:]
            try:
                with urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as answer:
                    assert answer.status == 200
                    assert answer.headers["x-content-type-options"] == "nosniff"
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.5)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
