"""One-time codes through the API: try budget, expiry, superseding, rate limits, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from persistence.config import get_settings
from persistence.models import OtpCode, OutboxEvent
from persistence.session import SYSTEM, tenant_session
from tests.factories import ip_client
from tests.integration.test_auth import (
    AUTH,
    assert_problem,
    fresh_email,
    fresh_phone,
    latest_code,
)


async def request_code(http: httpx.AsyncClient, destination: str) -> httpx.Response:
    channel = "email" if "@" in destination else "sms"
    return await http.post(f"{AUTH}/otp/request", json={"channel": channel, "destination": destination})


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def verify(http: httpx.AsyncClient, destination: str, code: str) -> httpx.Response:
    return await http.post(f"{AUTH}/otp/verify", json={"destination": destination, "code": code})


async def _issued(http: httpx.AsyncClient, destination: str) -> tuple[str, str]:
    assert (await request_code(http, destination)).status_code == 202
    return destination, await latest_code(destination)


async def written_for(destination: str) -> tuple[int, int]:
    """(otp_codes rows, outbox rows) that mention the destination."""
    async with tenant_session(SYSTEM) as session:
        codes = await session.scalar(
            select(func.count()).select_from(OtpCode).where(OtpCode.destination == destination)
        )
        events = await session.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.payload["destination"].astext == destination)
        )
    return int(codes or 0), int(events or 0)


async def test_code_is_stored_hashed_and_queued_for_delivery(http: httpx.AsyncClient) -> None:
    phone = fresh_phone()
    assert (await request_code(http, phone)).status_code == 202
    code = await latest_code(phone)
    async with tenant_session(SYSTEM) as session:
        row = (await session.scalars(select(OtpCode).where(OtpCode.destination == phone))).one()
        event = (
            await session.scalars(select(OutboxEvent).where(OutboxEvent.aggregate_id == str(row.id)))
        ).one()
    assert len(code) == 6 and code not in row.code_hash and len(row.code_hash) == 64
    assert row.channel == "sms" and row.attempts == 0
    assert event.topic == "notify.otp" and event.status == "pending"
    assert event.payload == {"channel": "sms", "destination": phone, "code": code}


async def test_same_answer_whether_or_not_the_account_exists(http: httpx.AsyncClient) -> None:
    known, code = await _issued(http, fresh_email())
    assert (await verify(http, known, code)).status_code == 200
    answers = [await request_code(http, known), await request_code(http, fresh_email())]
    assert [a.status_code for a in answers] == [202, 202]
    assert answers[0].json() == answers[1].json()


async def test_five_wrong_tries_lock_the_code(http: httpx.AsyncClient) -> None:
    email, code = await _issued(http, fresh_email())
    for left in range(4, -1, -1):
        refused = assert_problem(await verify(http, email, wrong(code)), 401)
        assert refused["reason"] == "code_wrong" and refused["attempts_left"] == left
    locked = assert_problem(await verify(http, email, code), 401)
    assert locked["reason"] == "code_locked"
    async with tenant_session(SYSTEM) as session:
        row = (await session.scalars(select(OtpCode).where(OtpCode.destination == email))).one()
    assert row.attempts == 5 and row.consumed_at is None
    # A new code starts a new budget.
    _, fresh = await _issued(http, email)
    assert (await verify(http, email, fresh)).status_code == 200


async def test_expired_code_fails(http: httpx.AsyncClient) -> None:
    email, code = await _issued(http, fresh_email())
    async with tenant_session(SYSTEM) as session:
        await session.execute(
            update(OtpCode)
            .where(OtpCode.destination == email)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert assert_problem(await verify(http, email, code), 401)["reason"] == "code_expired"


async def test_never_requested_code_fails(http: httpx.AsyncClient) -> None:
    assert_problem(await verify(http, fresh_phone(), "123456"), 401)


async def test_new_request_supersedes_the_old_code(http: httpx.AsyncClient) -> None:
    email, first = await _issued(http, fresh_email())
    _, second = await _issued(http, email)
    if first != second:  # one in a million they coincide; the row count still proves it
        assert_problem(await verify(http, email, first), 401)
    assert (await written_for(email))[0] == 1
    assert (await verify(http, email, second)).status_code == 200


async def test_per_destination_limit(http: httpx.AsyncClient) -> None:
    phone = fresh_phone()
    limit = get_settings().otp_requests_per_hour
    for _ in range(limit):
        assert (await request_code(http, phone)).status_code == 202
    refused = await request_code(http, phone)
    body = assert_problem(refused, 429)
    assert int(refused.headers["retry-after"]) == body["retry_after"]
    assert 0 < int(refused.headers["retry-after"]) <= 3600
    assert (await written_for(phone))[1] == limit
    # Another destination from the same address is still served.
    assert (await request_code(http, fresh_phone())).status_code == 202


async def test_per_ip_limit(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "otp_ip_requests_per_hour", 3)
    async with ip_client(app) as crowded, ip_client(app) as other:
        for _ in range(3):
            assert (await request_code(crowded, fresh_email())).status_code == 202
        refused = await request_code(crowded, fresh_email())
        assert_problem(refused, 429)
        assert "retry-after" in refused.headers
        assert (await request_code(other, fresh_email())).status_code == 202


async def test_failed_sign_ins_per_account(http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "otp_failures_per_account_hour", 2)
    email, code = await _issued(http, fresh_email())
    for _ in range(2):
        assert_problem(await verify(http, email, wrong(code)), 401)
    blocked = await verify(http, email, code)
    assert_problem(blocked, 429)
    assert int(blocked.headers["retry-after"]) > 0


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("otp/request", {"channel": "sms", "destination": "call me maybe"}, "destination"),
        ("otp/request", {"channel": "email", "destination": "+4930123456"}, "destination"),
        ("otp/request", {"channel": "pigeon", "destination": "ada@example.com"}, "channel"),
        ("otp/request", {"destination": "ada@example.com"}, "channel"),
        ("otp/request", {"channel": "sms", "destination": "+4930123456", "extra": 1}, "extra"),
        ("otp/verify", {"destination": "ada@example.com", "code": "12ab56"}, "code"),
        ("otp/verify", {"destination": "ada@", "code": "123456"}, "destination"),
        ("otp/verify", {"code": "123456"}, "destination"),
        ("refresh", {"refresh_token": 42}, "refresh_token"),
    ],
)
async def test_malformed_bodies_name_the_field(
    http: httpx.AsyncClient, path: str, body: dict[str, Any], field: str
) -> None:
    before = await written_for(str(body.get("destination")))
    response = await http.post(f"{AUTH}/{path}", json=body)
    problem = assert_problem(response, 422)
    assert field in [error["field"] for error in problem["errors"]]  # type: ignore[attr-defined]
    assert await written_for(str(body.get("destination"))) == before


async def test_not_json_is_422(http: httpx.AsyncClient) -> None:
    response = await http.post(
        f"{AUTH}/otp/request", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert_problem(response, 422)
