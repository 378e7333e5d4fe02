"""Sessions that end: deleting a driver, deactivating a user or replaying a refresh token
refuses that session's access tokens (401) and closes its sockets (4410) within seconds, on
every replica, and with that replica's Redis cut (the database answers)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from persistence.config import get_settings
from persistence.models import Organization, User
from tests.factories import auth_headers, make_driver, make_org, make_user
from tests.gateway_process import running_gateway
from tests.integration.realtime_server import (
    closed_with,
    connect,
    recv_json,
)
from tests.integration.test_auth import assert_problem, fresh_email, latest_code
from tests.integration.test_ws_replicas import REPLICA_ENV
from tests.proxy import TcpProxy

API = "/api/v1"
SESSION_ENDED = 4410
SETTLE_S = 10.0  # generous: the machine is shared; the measured figure is printed


async def sign_in(http: httpx.AsyncClient, email: str) -> dict[str, Any]:
    assert (
        await http.post(f"{API}/auth/otp/request", json={"channel": "email", "destination": email})
    ).status_code == 202
    verified = await http.post(
        f"{API}/auth/otp/verify", json={"destination": email, "code": await latest_code(email)}
    )
    assert verified.status_code == 200, verified.text
    tokens: dict[str, Any] = verified.json()
    return tokens


async def try_sign_in(http: httpx.AsyncClient, email: str) -> httpx.Response:
    assert (
        await http.post(f"{API}/auth/otp/request", json={"channel": "email", "destination": email})
    ).status_code == 202
    return await http.post(
        f"{API}/auth/otp/verify", json={"destination": email, "code": await latest_code(email)}
    )


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def seconds_until(refused: Callable[[], Awaitable[bool]], what: str) -> float:
    """Poll until `refused()`; the seconds it took (printed for the report)."""
    start = time.monotonic()
    while not await refused():
        assert time.monotonic() - start < SETTLE_S, f"{what} still accepted after {SETTLE_S} s"
        await asyncio.sleep(0.05)
    took = time.monotonic() - start
    print(f"\n{what}: refused after {took:.3f} s")
    return took


def rest_refused(http: httpx.AsyncClient, headers: dict[str, str]) -> Callable[[], Awaitable[bool]]:
    async def refused() -> bool:
        response = await http.get(f"{API}/auth/me", headers=headers)
        if response.status_code == 200:
            return False
        body = assert_problem(response, 401)
        assert body["reason"] == "session_revoked"
        return True

    return refused


async def staff(org: Organization, role: str) -> tuple[User, str]:
    email = fresh_email()
    return await make_user(role, org, email=email), email


async def test_deleted_driver_loses_rest_socket_refresh_and_sign_in(
    http: httpx.AsyncClient, ws_base: str
) -> None:
    org = await make_org()
    user, email = await staff(org, "driver")
    driver = await make_driver(org, user=user)
    admin = await make_user("mover_admin", org)
    tokens = await sign_in(http, email)
    assert (await http.get(f"{API}/auth/me", headers=bearer(tokens))).status_code == 200
    async with connect(f"{ws_base}/ws/driver", bearer(tokens)) as socket:
        assert (await recv_json(socket))["type"] == "hello"
        removed = await http.delete(f"{API}/drivers/{driver.id}", headers=auth_headers(admin))
        assert removed.status_code == 200, removed.text
        start = time.monotonic()
        code, reason = await closed_with(socket, SETTLE_S)
        print(f"\n/ws/driver after driver delete: closed {code} after {time.monotonic() - start:.3f} s")
    assert code == SESSION_ENDED and "session ended" in reason
    await seconds_until(rest_refused(http, bearer(tokens)), "REST after driver delete")
    refreshed = await http.post(f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert assert_problem(refreshed, 401)["reason"] == "account_disabled"
    assert assert_problem(await try_sign_in(http, email), 401)["reason"] == "account_disabled"
    async with connect(f"{ws_base}/ws/driver", bearer(tokens)) as socket:  # no new socket
        assert (await closed_with(socket))[0] == SESSION_ENDED


async def test_deactivated_dispatcher_loses_rest_and_board(http: httpx.AsyncClient, ws_base: str) -> None:
    org = await make_org()
    dispatcher, email = await staff(org, "dispatcher")
    admin = await make_user("mover_admin", org)
    tokens = await sign_in(http, email)
    async with connect(f"{ws_base}/ws/board", bearer(tokens)) as board:
        assert (await recv_json(board))["type"] == "snapshot"
        answer = await http.post(f"{API}/users/{dispatcher.id}/deactivate", headers=auth_headers(admin))
        assert answer.status_code == 200, answer.text
        assert answer.json()["active"] is False and answer.json()["id"] == str(dispatcher.id)
        start = time.monotonic()
        code, _ = await closed_with(board, SETTLE_S)
        print(f"\n/ws/board after deactivation: closed {code} after {time.monotonic() - start:.3f} s")
    assert code == SESSION_ENDED
    await seconds_until(rest_refused(http, bearer(tokens)), "REST after deactivation")
    # A token minted straight from the row (no sign-in) is refused as well: the version moved.
    assert (await http.get(f"{API}/auth/me", headers=auth_headers(dispatcher))).status_code == 401


async def test_refresh_reuse_refuses_that_sign_ins_access_tokens(http: httpx.AsyncClient) -> None:
    org = await make_org()
    _, email = await staff(org, "dispatcher")
    first = await sign_in(http, email)
    other_sign_in = await sign_in(http, email)
    rotated = await http.post(f"{API}/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert rotated.status_code == 200
    second = rotated.json()
    assert (await http.get(f"{API}/auth/me", headers=bearer(second))).status_code == 200
    replay = await http.post(f"{API}/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert assert_problem(replay, 401)["reason"] == "refresh_reused"
    await seconds_until(rest_refused(http, bearer(second)), "REST after refresh reuse")
    await seconds_until(rest_refused(http, bearer(first)), "the family's first access token")
    # Another sign-in of the same user is another session: it lives on.
    assert (await http.get(f"{API}/auth/me", headers=bearer(other_sign_in))).status_code == 200


async def test_sign_out_ends_the_access_token_too(http: httpx.AsyncClient) -> None:
    org = await make_org()
    _, email = await staff(org, "mover_admin")
    tokens = await sign_in(http, email)
    out = await http.post(f"{API}/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    assert out.status_code == 204
    await seconds_until(rest_refused(http, bearer(tokens)), "REST after sign-out")


async def test_who_may_deactivate_whom(http: httpx.AsyncClient) -> None:
    org, other_org = await make_org(), await make_org()
    admin = await make_user("mover_admin", org)
    dispatcher = await make_user("dispatcher", org)
    foreign = await make_user("dispatcher", other_org)
    customer = await make_user("customer")

    async def deactivate(caller: User, target: User) -> httpx.Response:
        return await http.post(f"{API}/users/{target.id}/deactivate", headers=auth_headers(caller))

    for target in (foreign, customer):  # not theirs: no hint that the user exists
        assert_problem(await deactivate(admin, target), 404)
    assert_problem(await http.post(f"{API}/users/{foreign.id}/reactivate", headers=auth_headers(admin)), 404)
    assert_problem(await deactivate(dispatcher, admin), 403)  # dispatchers manage no accounts
    assert_problem(await deactivate(admin, admin), 409)
    assert (await http.get(f"{API}/auth/me", headers=auth_headers(foreign))).status_code == 200
    platform = await make_user("platform_admin")
    answer = await deactivate(platform, customer)
    assert answer.status_code == 200 and answer.json()["active"] is False
    assert (await deactivate(platform, customer)).status_code == 200  # idempotent


async def test_reactivation_restores_sign_in_not_old_tokens(http: httpx.AsyncClient) -> None:
    org = await make_org()
    driver_user, email = await staff(org, "driver")
    await make_driver(org, user=driver_user)
    admin = await make_user("mover_admin", org)
    before = await sign_in(http, email)
    assert (
        await http.post(f"{API}/users/{driver_user.id}/deactivate", headers=auth_headers(admin))
    ).status_code == 200
    assert assert_problem(await try_sign_in(http, email), 401)["reason"] == "account_disabled"
    answer = await http.post(f"{API}/users/{driver_user.id}/reactivate", headers=auth_headers(admin))
    assert answer.status_code == 200 and answer.json()["active"] is True
    after = await sign_in(http, email)
    assert (await http.get(f"{API}/auth/me", headers=bearer(after))).status_code == 200
    assert (await http.get(f"{API}/auth/me", headers=bearer(before))).status_code == 401
    stale = await http.post(f"{API}/auth/refresh", json={"refresh_token": before["refresh_token"]})
    assert stale.status_code == 401
    assert (
        await http.post(f"{API}/auth/refresh", json={"refresh_token": after["refresh_token"]})
    ).status_code == 200


# ---- across gateway processes, and with Redis cut -------------------------------------------
@contextlib.contextmanager
def gateway(_: pytest.MonkeyPatch, **env: str) -> Iterator[tuple[str, str]]:
    """A gateway process of its own (no Ray) on this suite's database: (http, ws) base URLs."""
    settings = {f"MOVEHUB_{name.upper()}": value for name, value in env.items()}
    with running_gateway({**REPLICA_ENV, **settings}, name="sessions-gateway") as base_url:
        yield base_url, base_url.replace("http://", "ws://")


async def test_a_revocation_closes_sockets_on_another_replica(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = await make_org()
    dispatcher = await make_user("dispatcher", org)
    admin = await make_user("mover_admin", org)
    # The sweep waits two minutes: a close within seconds can only be the pub/sub message.
    with gateway(monkeypatch, ws_session_recheck_s="120") as (other_http, other_ws):
        async with connect(f"{other_ws}/ws/board", auth_headers(dispatcher)) as board:
            assert (await recv_json(board))["type"] == "snapshot"
            answer = await http.post(
                f"{API}/users/{dispatcher.id}/deactivate", headers=auth_headers(admin)
            )  # on this replica
            assert answer.status_code == 200
            start = time.monotonic()
            code, _ = await closed_with(board, SETTLE_S)
            print(f"\n/ws/board on another replica: closed {code} after {time.monotonic() - start:.3f} s")
        assert code == SESSION_ENDED
        async with httpx.AsyncClient(base_url=other_http) as remote:
            await seconds_until(rest_refused(remote, auth_headers(dispatcher)), "REST on another replica")


async def test_without_redis_checks_read_the_database(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = await make_org()
    driver_user = await make_user("driver", org)
    driver = await make_driver(org, user=driver_user)
    colleague = await make_user("dispatcher", org)
    admin = await make_user("mover_admin", org)
    redis = urlsplit(get_settings().redis_url)
    with (
        TcpProxy(redis.port or 6379) as proxy,
        gateway(
            monkeypatch, redis_url=f"redis://127.0.0.1:{proxy.port}{redis.path}", ws_session_recheck_s="1"
        ) as (cut_http, cut_ws),
    ):
        async with (
            httpx.AsyncClient(base_url=cut_http, timeout=30) as remote,
            connect(f"{cut_ws}/ws/driver", auth_headers(driver_user, driver)) as socket,
        ):
            assert (await recv_json(socket))["type"] == "hello"
            proxy.cut("blackhole")  # that gateway's Redis hangs; ours still works
            for _ in range(3):  # a live session keeps working, read from PostgreSQL
                me = await remote.get(f"{API}/auth/me", headers=auth_headers(colleague))
                assert me.status_code == 200, me.text
            removed = await http.delete(f"{API}/drivers/{driver.id}", headers=auth_headers(admin))
            assert removed.status_code == 200
            start = time.monotonic()
            code, _ = await closed_with(socket, SETTLE_S)  # no pub/sub there: the sweep
            print(f"\n/ws/driver with Redis cut: closed {code} after {time.monotonic() - start:.3f} s")
            assert code == SESSION_ENDED
            await seconds_until(
                rest_refused(remote, auth_headers(driver_user, driver)), "REST with Redis cut"
            )
