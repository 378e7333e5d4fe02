"""Tracing is off unless the OTEL_* variables ask for it, and off means nothing installed:
no provider, no library instrumented, no middleware, helpers that return at once."""

from __future__ import annotations

import os

import pytest
import sqlalchemy.ext.asyncio
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

from persistence import telemetry


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "movehub"}, False),  # a name alone exports nothing
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, False),
    ],
)
def test_configured_by_the_standard_variables(env: dict[str, str], expected: bool) -> None:
    assert telemetry.configured(env) is expected


def test_environment_hands_on_only_otel_variables() -> None:
    env = {"OTEL_SERVICE_NAME": "m", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "HOME": "/root"}
    assert telemetry.environment(env) == {
        "OTEL_SERVICE_NAME": "m",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
    }


async def test_without_otel_variables_nothing_is_instrumented(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in os.environ if k.startswith("OTEL_")]:
        monkeypatch.delenv(key)
    from gateway.app import create_app

    app = create_app()  # calls telemetry.setup("gateway") and instrument_app(app)
    assert not telemetry.active()
    assert telemetry.setup("fleet-shard") is False
    # The ASGI stack is the app's own (security headers outermost), no OpenTelemetry layer.
    assert type(app.build_middleware_stack()).__name__ == "SecurityHeaders"
    for instrumentor in (SQLAlchemyInstrumentor(), RedisInstrumentor(), HTTPXClientInstrumentor()):
        assert not instrumentor.is_instrumented_by_opentelemetry, type(instrumentor).__name__
    assert not hasattr(sqlalchemy.ext.asyncio.create_async_engine, "__wrapped__")
    assert telemetry.carrier() is None and telemetry.traceparent() is None and telemetry.trace_id() is None
    with telemetry.span("anything") as span:
        assert span is None

    @telemetry.traced("fleet.rank", parent="trace")
    async def call(value: int, trace: dict[str, str] | None = None) -> int:
        return value

    assert await call(3, trace={"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}) == 3
