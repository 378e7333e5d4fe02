"""The API keeps its OpenAPI contract: schemathesis fuzzes every operation of a real gateway
process (uvicorn, the test database, signed in as a test org's admin) with a fixed seed and a
small budget, and finds no server error, no undeclared status, no wrong content type and no
response off its schema. Plus the document's error answers and a 405's Allow header."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.factories import auth_headers, make_org, make_user
from tests.gateway_process import ROOT, running_gateway

CONFIG = Path(__file__).with_name("schemathesis.toml")
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
SEED, MAX_EXAMPLES = 1, 5  # ~2-3 minutes on a 2-core machine
RUN_TIMEOUT_S = 900.0


@pytest.fixture(scope="module")
def gateway(database: str) -> Iterator[str]:
    """A gateway process on the test database, without Ray (see schemathesis.toml)."""
    env = {
        "MOVEHUB_RAY_ENABLED": "false",
        "MOVEHUB_BACKGROUND_WORKERS": "false",
        "MOVEHUB_LOG_LEVEL": "WARNING",
    }
    with running_gateway(env, name="contract-gateway") as base_url:
        yield base_url


@pytest.mark.timeout(RUN_TIMEOUT_S + 60)  # over the suite's per-test default: a loaded machine
async def test_schemathesis_finds_nothing(gateway: str) -> None:
    token = auth_headers(await make_user("mover_admin", await make_org()))["Authorization"]
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(CONFIG),
        "run",
        f"{gateway}/openapi.json",
        "--header",
        f"Authorization: {token}",
        "--checks",
        CHECKS,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--no-shrink",
        "--continue-on-failure",
        "--no-color",
    ]
    # In a thread: a test must not block the session's event loop for minutes (the session
    # app's background tasks run on it too).
    run = await asyncio.to_thread(
        subprocess.run, command, cwd=ROOT, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-12000:]
    assert "Tested: " in output and " passed" in output, output[-4000:]


async def test_operations_declare_their_problem_answers(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    assert set(document["components"]["schemas"]["Problem"]["properties"]) >= {
        "type",
        "title",
        "status",
        "detail",
        "instance",
        "correlation_id",
        "errors",
    }
    operations = {
        (path, method): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    rating = operations[("/api/v1/bookings/{booking_id}/rating", "get")]["responses"]
    assert {"401", "403", "404", "422", "429", "503"} <= set(rating)
    assert "409" not in rating  # a read
    assert rating["429"]["headers"]["Retry-After"]
    write = operations[("/api/v1/bookings/{booking_id}/rating", "post")]["responses"]
    assert {"400", "409", "422"} <= set(write)
    for (path, method), operation in operations.items():
        for status, answer in operation["responses"].items():
            if int(status) >= 400:
                assert set(answer["content"]) == {"application/problem+json"}, (path, method, status)
                assert answer["content"]["application/problem+json"]["schema"] == {
                    "$ref": "#/components/schemas/Problem"
                }
    assert "HTTPValidationError" not in document["components"]["schemas"]


async def test_a_405_carries_allow(client: httpx.AsyncClient) -> None:
    answer = await client.delete("/api/v1/me/notification-preferences")
    assert answer.status_code == 405
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert set(answer.headers["allow"].replace(" ", "").split(",")) == {"GET", "PUT"}
