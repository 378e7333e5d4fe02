"""Analytics on a replica: MOVEHUB_ANALYTICS_DATABASE_URL gets its own engine (here the same
database through a TCP proxy, so the test sees the traffic), read-only transactions, same RLS."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from persistence.config import get_settings
from persistence.session import SYSTEM, analytics_session, dispose_analytics_engine
from tests.factories import auth_headers, make_booking, make_org, make_user
from tests.integration.test_analytics import DAY, RANGE
from tests.proxy import TcpProxy


@pytest.fixture
def replica_proxy() -> Iterator[TcpProxy]:
    url = make_url(get_settings().database_url)
    with TcpProxy(url.port or 5432, url.host or "127.0.0.1") as proxy:
        yield proxy


@pytest.fixture
async def replica(
    replica_proxy: TcpProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[TcpProxy]:
    """Point the analytics URL at the proxy for one test, then back at the primary."""
    settings = get_settings()
    url = make_url(settings.database_url).set(host="127.0.0.1", port=replica_proxy.port)
    await dispose_analytics_engine()
    monkeypatch.setattr(settings, "analytics_database_url", url.render_as_string(hide_password=False))
    yield replica_proxy
    await dispose_analytics_engine()


async def test_dashboard_reads_through_the_replica_url(client: httpx.AsyncClient, replica: TcpProxy) -> None:
    org = await make_org()
    admin, customer = await make_user("mover_admin", org), await make_user("customer")
    await make_booking(org, customer, start=DAY + timedelta(hours=8), status="completed", price_cents=40000)
    stranger = await make_user("dispatcher", await make_org())
    before = replica.accepted

    mine = await client.get("/api/v1/analytics/bookings", params=RANGE, headers=auth_headers(admin))
    theirs = await client.get("/api/v1/analytics/bookings", params=RANGE, headers=auth_headers(stranger))

    assert mine.status_code == 200, mine.text
    assert (mine.json()["total"], mine.json()["revenue_cents"]) == (1, {"EUR": 40000})
    assert theirs.json()["total"] == 0  # the same row-level security on the replica engine
    assert replica.accepted > before

    replica.cut()  # the replica away: analytics is a 503, the rest of the API is not
    away = await client.get("/api/v1/analytics/bookings", params=RANGE, headers=auth_headers(admin))
    assert away.status_code == 503 and "retry-after" in away.headers
    assert (await client.get("/api/v1/drivers", headers=auth_headers(admin))).status_code == 200


@pytest.mark.parametrize(
    "write",
    [
        "UPDATE organizations SET name = name",
        "INSERT INTO driver_breadcrumbs (driver_id, org_id, recorded_at, location) "
        "SELECT id, org_id, now(), 'POINT(0 0)' FROM drivers LIMIT 1",
    ],
)
async def test_a_write_through_the_analytics_session_fails(
    database: str, replica: TcpProxy, write: str
) -> None:
    with pytest.raises(DBAPIError, match="read-only transaction"):
        async with analytics_session(SYSTEM) as session:
            await session.execute(text(write))


async def test_without_a_replica_analytics_is_read_only_on_the_primary(database: str) -> None:
    assert get_settings().analytics_database_url == ""
    async with analytics_session(SYSTEM) as session:
        assert (await session.execute(text("SHOW transaction_read_only"))).scalar() == "on"
        assert (await session.execute(text("SELECT current_setting('app.role')"))).scalar() == "system"
