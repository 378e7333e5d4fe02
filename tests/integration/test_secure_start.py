"""Start-up refuses insecure secrets in production (create_app and a real uvicorn process)."""

from __future__ import annotations

from secrets import token_hex

import httpx
import pytest

from gateway.app import create_app
from persistence.config import InsecureSettings, get_settings
from tests.conftest import TEST_DB
from tests.gateway_process import running_gateway

NAMED = [
    "MOVEHUB_JWT_SECRET",
    "MOVEHUB_DIGEST_SECRET",
    "MOVEHUB_STORAGE_SIGNING_SECRET",
    "MOVEHUB_STRIPE_WEBHOOK_SECRET",
    "MOVEHUB_DATABASE_URL",
    "MOVEHUB_OWNER_DATABASE_URL",
]


def strong_environment() -> dict[str, str]:
    """Random secrets; role passwords too (the local server trusts loopback connections)."""
    return {
        "MOVEHUB_JWT_SECRET": token_hex(32),
        "MOVEHUB_DIGEST_SECRET": token_hex(32),
        "MOVEHUB_STORAGE_SIGNING_SECRET": token_hex(32),
        "MOVEHUB_STRIPE_WEBHOOK_SECRET": f"whsec_{token_hex(16)}",
        "MOVEHUB_DATABASE_URL": f"postgresql+asyncpg://movehub_app:{token_hex(16)}@127.0.0.1:5432/{TEST_DB}",
        "MOVEHUB_OWNER_DATABASE_URL": f"postgresql+asyncpg://movehub_owner:{token_hex(16)}@127.0.0.1:5432/{TEST_DB}",
    }


def test_create_app_refuses_the_shipped_secrets_in_production() -> None:
    with pytest.raises(InsecureSettings) as refused:
        create_app(get_settings().model_copy(update={"environment": "production"}))
    for name in NAMED:
        assert name in str(refused.value)


def test_create_app_starts_in_production_with_strong_secrets() -> None:
    strong = {name.removeprefix("MOVEHUB_").lower(): value for name, value in strong_environment().items()}
    app = create_app(get_settings().model_copy(update={"environment": "production", **strong}))
    assert app.state.settings.environment == "production"


PRODUCTION = {
    "MOVEHUB_ENVIRONMENT": "production",
    "MOVEHUB_RAY_ENABLED": "false",
    "MOVEHUB_BACKGROUND_WORKERS": "false",
}


def test_the_server_process_exits_naming_each_insecure_setting() -> None:
    with pytest.raises(RuntimeError) as refused, running_gateway(PRODUCTION, name="secure-start-refused"):
        pass
    output = str(refused.value)
    assert "the gateway exited" in output
    assert "refusing to start in environment 'production'" in output
    for name in NAMED:
        assert name in output


def test_the_server_process_serves_with_strong_secrets(database: str) -> None:
    with running_gateway({**PRODUCTION, **strong_environment()}, name="secure-start") as base_url:
        answer = httpx.get(f"{base_url}/healthz", timeout=5)
    assert answer.status_code == 200
    assert answer.headers["x-content-type-options"] == "nosniff"
