"""insecure_settings(): every shipped, empty or weak secret is named; the refusal and the warning."""

from __future__ import annotations

from secrets import token_hex
from typing import Any

import pytest
import structlog
from pydantic import ValidationError

from gateway.security import check_settings
from persistence.config import (
    InsecureSettings,
    Settings,
    insecure_settings,
    refuse_insecure_settings,
)


def strong(**overrides: Any) -> Settings:
    """Production settings with every secret random (the baseline each test spoils one of)."""
    values: dict[str, Any] = {
        "environment": "production",
        "jwt_secret": token_hex(32),
        "digest_secret": token_hex(32),
        "storage_signing_secret": token_hex(32),
        "stripe_webhook_secret": f"whsec_{token_hex(16)}",
        "metrics_token": "",
        "database_url": f"postgresql+asyncpg://movehub_app:{token_hex(16)}@db:5432/movehub",
        "owner_database_url": f"postgresql+asyncpg://movehub_owner:{token_hex(16)}@db:5432/movehub",
        "admin_database_url": "postgresql://postgres@db:5432/postgres",
    }
    return Settings(**{**values, **overrides})


def test_strong_secrets_pass() -> None:
    assert insecure_settings(strong()) == []
    assert refuse_insecure_settings(strong()) == []


@pytest.mark.parametrize(
    "field", ["jwt_secret", "digest_secret", "storage_signing_secret", "stripe_webhook_secret"]
)
def test_shipped_default_is_named(field: str) -> None:
    default = Settings.model_fields[field].default
    assert default  # a shipped value exists to be refused
    assert insecure_settings(strong(**{field: default})) == [
        f"MOVEHUB_{field.upper()} is the shipped default"
    ]


@pytest.mark.parametrize(
    "field", ["jwt_secret", "digest_secret", "storage_signing_secret", "stripe_webhook_secret"]
)
def test_empty_secret_is_named(field: str) -> None:
    assert insecure_settings(strong(**{field: ""})) == [f"MOVEHUB_{field.upper()} is empty"]


@pytest.mark.parametrize("field", ["jwt_secret", "digest_secret", "storage_signing_secret", "metrics_token"])
def test_secret_under_32_bytes_is_weak(field: str) -> None:
    assert insecure_settings(strong(**{field: "x" * 32})) == []
    assert insecure_settings(strong(**{field: "x" * 31})) == [
        f"MOVEHUB_{field.upper()} is weak: 31 bytes, at least 32 needed"
    ]


def test_a_short_multibyte_secret_is_counted_in_bytes() -> None:
    assert insecure_settings(strong(jwt_secret="é" * 16)) == []  # 32 bytes in UTF-8
    assert insecure_settings(strong(jwt_secret="é" * 15)) != []


def test_webhook_secret_is_required_with_a_stripe_key_and_without() -> None:
    with_key = strong(stripe_api_key="sk_live_" + token_hex(12), stripe_webhook_secret="")
    assert insecure_settings(with_key) == ["MOVEHUB_STRIPE_WEBHOOK_SECRET is empty"]
    assert insecure_settings(strong(stripe_webhook_secret="")) != []
    # Stripe issues it: no length rule of ours.
    assert insecure_settings(strong(stripe_webhook_secret="whsec_short")) == []


def test_storage_secret_only_matters_for_local_storage() -> None:
    assert insecure_settings(strong(storage_backend="s3", storage_signing_secret="")) == []
    assert insecure_settings(strong(storage_backend="local", storage_signing_secret="")) != []


def test_an_empty_metrics_token_keeps_metrics_closed_and_is_fine() -> None:
    assert insecure_settings(strong(metrics_token="")) == []


@pytest.mark.parametrize(
    ("field", "url", "role"),
    [
        ("database_url", "postgresql+asyncpg://movehub_app:movehub_app@db/movehub", "movehub_app"),
        (
            "owner_database_url",
            "postgresql+asyncpg://movehub_owner:movehub_owner@db/movehub",
            "movehub_owner",
        ),
        ("admin_database_url", "postgresql://postgres:postgres@db/postgres", "postgres"),
        ("database_url", "postgresql+asyncpg://anna:anna@db/movehub", "anna"),
        ("database_url", "postgresql+asyncpg://anna:movehub%5Fapp@db/movehub", "anna"),
    ],
)
def test_database_url_with_a_shipped_password_is_named(field: str, url: str, role: str) -> None:
    assert insecure_settings(strong(**{field: url})) == [
        f"MOVEHUB_{field.upper()} carries the shipped password of role {role!r}"
    ]


def test_database_url_without_a_password_is_left_to_the_server() -> None:
    # Peer, certificate or trust authentication: the server's business, not a shipped secret.
    assert insecure_settings(strong(database_url="postgresql+asyncpg://movehub_app@db/m")) == []


def test_the_shipped_defaults_name_every_secret() -> None:
    names = {problem.split()[0] for problem in insecure_settings(Settings(environment="staging"))}
    assert {
        "MOVEHUB_JWT_SECRET",
        "MOVEHUB_DIGEST_SECRET",
        "MOVEHUB_STORAGE_SIGNING_SECRET",
        "MOVEHUB_STRIPE_WEBHOOK_SECRET",
    } <= names


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_outside_development_the_refusal_names_each_setting(environment: str) -> None:
    settings = strong(environment=environment, jwt_secret="short", digest_secret="")
    with pytest.raises(InsecureSettings) as refused:
        refuse_insecure_settings(settings)
    message = str(refused.value)
    assert repr(environment) in message
    assert "MOVEHUB_JWT_SECRET is weak: 5 bytes" in message
    assert "MOVEHUB_DIGEST_SECRET is empty" in message
    assert "MOVEHUB_STORAGE_SIGNING_SECRET" not in message


@pytest.mark.parametrize("environment", ["development", "test"])
def test_development_and_test_tolerate_the_shipped_secrets(environment: str) -> None:
    problems = refuse_insecure_settings(Settings(environment=environment))
    assert "MOVEHUB_JWT_SECRET is the shipped default" in problems


def test_development_warns_once_listing_them_and_test_stays_quiet() -> None:
    with structlog.testing.capture_logs() as logs:
        check_settings(Settings(environment="development"))
        check_settings(Settings(environment="test"))
    assert [entry["log_level"] for entry in logs] == ["warning"]
    assert "MOVEHUB_JWT_SECRET is the shipped default" in logs[0]["problems"]


def test_unknown_environments_are_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(environment="prod")
