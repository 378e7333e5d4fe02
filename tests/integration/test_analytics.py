"""Analytics: the nine views' figures against rows each test made, tenancy, CSV, bad input."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from persistence.models import (
    Booking,
    Document,
    Invoice,
    InvoicePayment,
    Organization,
    Rating,
    SupportTicket,
    User,
    VerificationSubmission,
)
from persistence.session import SYSTEM, tenant_session
from persistence.statuses import InvoiceStatus, SubmissionStatus, TicketStatus
from tests.factories import (
    auth_headers,
    make_assignment,
    make_booking,
    make_driver,
    make_org,
    make_truck,
    make_user,
)

BERLIN = ZoneInfo("Europe/Berlin")
# A fixed day for the booking-only tests (nobody else books on it), dates relative to today
# for the figures that are "now" (overdue, expiring, open).
DAY = datetime(2027, 4, 6, tzinfo=UTC)
RANGE = {"from": "2027-04-06", "to": "2027-04-07"}
API = "/api/v1/analytics"


async def _add(*rows: Any) -> None:
    async with tenant_session(SYSTEM) as session:
        session.add_all(rows)


async def _assign(booking: Booking, driver: Any, truck: Any, arrived: datetime | None = None) -> None:
    await make_assignment(booking, driver, truck, arrived=arrived)


async def _get(http: httpx.AsyncClient, view: str, user: User, **params: Any) -> Any:
    response = await http.get(f"{API}/{view}", params=params, headers=auth_headers(user))
    assert response.status_code == 200, response.text
    return response.json()


class Office:
    """An organization in Berlin with a month of activity ending today."""

    def __init__(self, org: Organization, admin: User, today: date) -> None:
        self.org, self.admin, self.today = org, admin, today
        self.first = today - timedelta(days=20)

    def at(self, days_ago: int, hour: int) -> datetime:
        return datetime.combine(self.today - timedelta(days=days_ago), time(hour), BERLIN)

    @property
    def range(self) -> dict[str, str]:
        return {"from": self.first.isoformat(), "to": self.today.isoformat()}


async def _office() -> Office:
    org = await make_org(timezone="Europe/Berlin")
    office = Office(org, await make_user("mover_admin", org), datetime.now(BERLIN).date())
    customer = await make_user("customer")
    ada = await make_driver(org, full_name="Ada", rating_avg=4.5)
    bob = await make_driver(org, full_name="Bob", rating_avg=4.0, verified=False)
    busy = await make_truck(org, plate="BUSY-1")
    await make_truck(org, plate="IDLE-1")
    done1 = await make_booking(org, customer, start=office.at(3, 9), status="completed", price_cents=40000)
    done2 = await make_booking(
        org, customer, start=office.at(2, 9), status="completed", price_cents=20000, hours=2
    )
    await make_booking(org, customer, start=office.at(2, 14), status="cancelled")
    await make_booking(org, customer, start=office.at(1, 9), status="no_show")
    await make_booking(org, customer, start=office.at(1, 14), status="pending")
    await make_booking(org, customer, start=office.at(40, 9), status="completed")  # before
    await _assign(done1, ada, busy, arrived=done1.window_start + timedelta(minutes=10))
    await _assign(done2, bob, busy, arrived=done2.window_start + timedelta(minutes=40))
    hidden_booking = await make_booking(org, customer, start=office.at(5, 9), status="completed")
    await _add(
        Rating(
            org_id=org.id,
            booking_id=done1.id,
            customer_id=customer.id,
            driver_id=ada.id,
            overall=5,
            driver_rating=4,
            created_at=office.at(2, 12),
        ),
        Rating(
            org_id=org.id,
            booking_id=done2.id,
            customer_id=customer.id,
            overall=3,
            created_at=office.at(1, 12),
        ),
        Rating(
            org_id=org.id,
            booking_id=hidden_booking.id,
            customer_id=customer.id,
            overall=1,
            hidden=True,
            created_at=office.at(1, 12),
        ),
    )
    opened = office.at(4, 10)
    ticket = {
        "org_id": org.id,
        "opened_by": office.admin.id,
        "opened_by_role": "mover_admin",
        "issue_type": "other",
        "subject": "s",
        "description": "d",
    }
    await _add(
        SupportTicket(
            **ticket,
            priority="urgent",
            status=TicketStatus.OPEN,
            created_at=opened,
            sla_due_at=opened + timedelta(hours=4),
        ),  # open past its SLA: a breach
        SupportTicket(
            **ticket,
            priority="low",
            status=TicketStatus.RESOLVED,
            created_at=opened,
            sla_due_at=opened + timedelta(hours=8),
            first_response_at=opened + timedelta(hours=1),
            resolved_at=opened + timedelta(hours=3),
        ),
        SupportTicket(
            **ticket,
            priority="normal",
            status=TicketStatus.IN_PROGRESS,
            created_at=opened,
            sla_due_at=opened + timedelta(days=30),
            first_response_at=opened + timedelta(hours=3),
        ),
    )
    invoice = {"org_id": org.id, "customer_id": customer.id, "currency": "EUR"}
    paid = Invoice(
        **invoice,
        status=InvoiceStatus.PAID,
        number=f"A-{uuid.uuid4().hex[:12]}",
        subtotal_cents=20000,
        total_cents=20000,
        paid_cents=20000,
        issue_date=office.today - timedelta(days=10),
        due_date=office.today + timedelta(days=4),
        paid_at=office.at(4, 10),
    )
    await _add(
        paid,
        Invoice(
            **invoice,
            status=InvoiceStatus.ISSUED,
            number=f"A-{uuid.uuid4().hex[:12]}",
            subtotal_cents=10000,
            total_cents=10000,
            paid_cents=2500,
            issue_date=office.today - timedelta(days=18),
            due_date=office.today - timedelta(days=4),
        ),
        Invoice(**invoice, status=InvoiceStatus.DRAFT, subtotal_cents=999, total_cents=999),
    )
    await _add(
        InvoicePayment(
            invoice_id=paid.id, org_id=org.id, amount_cents=20000, method="card", received_at=office.at(4, 10)
        )
    )
    documents = [
        Document(org_id=org.id, purpose="verification", storage_key=uuid.uuid4().hex) for _ in range(3)
    ]
    await _add(*documents)
    submission = {"org_id": org.id, "subject_type": "organization", "subject_id": org.id}
    await _add(
        VerificationSubmission(
            **submission,
            kind="business_license",
            document_id=documents[0].id,
            status=SubmissionStatus.PENDING,
        ),
        VerificationSubmission(
            **submission,
            kind="liability_insurance",
            document_id=documents[1].id,
            status=SubmissionStatus.APPROVED,
            decided_at=office.at(3, 10),
            expires_on=office.today + timedelta(days=10),
        ),
        VerificationSubmission(
            **submission,
            kind="workers_comp",
            document_id=documents[2].id,
            status=SubmissionStatus.REJECTED,
            decided_at=office.at(3, 11),
            rejection_reason="unreadable",
        ),
    )
    return office


async def test_every_view_for_an_organization(http: httpx.AsyncClient) -> None:
    office = await _office()
    admin, scope = office.admin, office.range

    bookings = await _get(http, "bookings", admin, **scope)
    assert (bookings["scope"], bookings["org_id"]) == ("organization", str(office.org.id))
    assert (bookings["timezone"], bookings["from"]) == ("Europe/Berlin", scope["from"])
    assert bookings["total"] == 6  # the one 40 days ago is out of range
    assert bookings["by_status"]["completed"] == 3 and bookings["by_status"]["assigned"] == 0
    assert (bookings["cancelled"], bookings["no_shows"]) == (1, 1)
    assert bookings["completion_rate"] == 0.6  # 3 of 5 ended
    assert (bookings["cancellation_rate"], bookings["no_show_rate"]) == (0.1667, 0.1667)
    assert bookings["revenue_cents"] == {"EUR": 90000}
    assert bookings["average_price_cents"] == {"EUR": 30000}

    drivers = await _get(http, "drivers", admin, **scope)
    assert (drivers["active_drivers"], drivers["verified_drivers"]) == (2, 1)
    assert (drivers["jobs"], drivers["completed_jobs"]) == (2, 2)
    assert drivers["on_time_rate"] == 0.5 and drivers["rating_avg"] == 4.25
    ada, bob = drivers["top_performers"]
    assert (ada["full_name"], ada["on_time_jobs"], ada["on_time_rate"]) == ("Ada", 1, 1.0)
    assert (bob["full_name"], bob["on_time_rate"]) == ("Bob", 0.0)

    trucks = await _get(http, "trucks", admin, **scope)
    assert trucks["active_trucks"] == 2
    idle, busy = trucks["trucks"]  # least used first
    assert (idle["plate"], idle["jobs"], idle["idle_days"]) == ("IDLE-1", 0, 21)
    assert (busy["plate"], busy["jobs"], busy["busy_hours"], busy["idle_days"]) == ("BUSY-1", 2, 6.0, 19)
    assert busy["utilization"] == round(6 / 210, 4)
    assert trucks["idle_truck_days"] == 40

    ratings = await _get(http, "ratings", admin, **scope, bucket="month")
    assert (ratings["count"], ratings["hidden"]) == (2, 1)
    assert (ratings["average_overall"], ratings["average_driver"]) == (4.0, 4.0)
    assert ratings["distribution"] == {"1": 0, "2": 0, "3": 1, "4": 0, "5": 1}
    assert sum(p["value"] for p in ratings["trend"]) in (4.0, 8.0)  # one or two months

    support = await _get(http, "support", admin, **scope)
    assert support["open_by_priority"] == {"low": 0, "normal": 1, "high": 0, "urgent": 1}
    assert (support["open_total"], support["opened"], support["resolved"]) == (2, 3, 1)
    assert support["median_first_response_s"] == 7200.0  # of 1 h and 3 h
    assert support["median_resolution_s"] == support["average_resolution_s"] == 10800.0
    assert support["sla_breaches"] == 1

    invoices = await _get(http, "invoices", admin, **scope)
    assert (invoices["issued"], invoices["paid"], invoices["overdue_now"]) == (2, 1, 1)
    assert invoices["by_status"]["paid"] == 1 and invoices["by_status"]["issued"] == 1
    assert invoices["issued_cents"] == {"EUR": 30000}
    assert invoices["outstanding_cents"] == {"EUR": 7500}
    assert invoices["average_days_to_pay"] == 6.0
    assert invoices["collected_cents"] == {"EUR": 20000}

    verification = await _get(http, "verification", admin, **scope)
    assert (verification["pending"], verification["approved"], verification["rejected"]) == (1, 1, 1)
    assert verification["expiring_in_30_days"] == 1
    assert verification["expiring_by_kind"] == {"liability_insurance": 1}

    dashboard = await _get(http, "dashboard", admin, **scope)
    assert (dashboard["bookings"], dashboard["completed"], dashboard["open_tickets"]) == (6, 3, 2)
    assert (dashboard["sla_breaches"], dashboard["overdue_invoices"]) == (1, 1)
    assert (dashboard["pending_verifications"], dashboard["rating_avg"]) == (1, 4.0)
    assert len(dashboard["trend"]) == 21 and sum(p["value"] for p in dashboard["trend"]) == 6


async def test_trends_bucket_in_the_organizations_time_zone(http: httpx.AsyncClient) -> None:
    org = await make_org(timezone="Europe/Berlin")
    admin, customer = await make_user("dispatcher", org), await make_user("customer")
    # 22:30 UTC on 6 April is 00:30 on 7 April in Berlin: it counts on the 7th
    late = await make_booking(
        org, customer, start=DAY + timedelta(hours=22, minutes=30), status="completed", price_cents=5000
    )
    await make_booking(org, customer, start=DAY + timedelta(hours=8), status="completed", price_cents=7000)
    await make_booking(org, customer, start=DAY + timedelta(days=20, hours=8))
    daily = await _get(http, "trends", admin, metric="revenue_cents", bucket="day", **RANGE)
    assert daily["currency"] == "EUR" and late.currency == "EUR"
    assert [(p["bucket_start"], p["value"]) for p in daily["points"]] == [
        ("2027-04-06", 7000.0),
        ("2027-04-07", 5000.0),
    ]
    weekly = await _get(
        http, "trends", admin, metric="bookings", bucket="week", **{"from": "2027-04-01", "to": "2027-04-30"}
    )
    assert [p["bucket_start"] for p in weekly["points"]] == [
        "2027-03-29",
        "2027-04-05",
        "2027-04-12",
        "2027-04-19",
        "2027-04-26",
    ]
    assert [p["value"] for p in weekly["points"]] == [0, 2, 0, 0, 1]
    monthly = await _get(
        http,
        "trends",
        admin,
        metric="completed",
        bucket="month",
        **{"from": "2027-03-01", "to": "2027-05-31"},
    )
    assert [p["value"] for p in monthly["points"]] == [0, 2, 0]


async def test_platform_admins_see_all_or_one_organization(http: httpx.AsyncClient) -> None:
    day = datetime(2034, 2, 14, 9, tzinfo=UTC)  # a day of this test's own
    one, two = await make_org(), await make_org(currency="USD")
    customer = await make_user("customer")
    await make_booking(one, customer, start=day, status="completed", price_cents=100)
    await make_booking(one, customer, start=day, status="cancelled")
    await make_booking(two, customer, start=day, status="completed", price_cents=300, currency="USD")
    admin = await make_user("platform_admin")
    span = {"from": "2034-02-14", "to": "2034-02-14"}
    platform = await _get(http, "bookings", admin, **span)
    assert (platform["scope"], platform["org_id"], platform["timezone"]) == ("platform", None, "UTC")
    assert platform["total"] == 3
    assert platform["revenue_cents"] == {"EUR": 100, "USD": 300}
    single = await _get(http, "bookings", admin, org_id=str(one.id), **span)
    assert (single["scope"], single["total"], single["revenue_cents"]) == ("organization", 2, {"EUR": 100})
    unknown = await http.get(
        f"{API}/bookings", params={"org_id": str(uuid.uuid4())}, headers=auth_headers(admin)
    )
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")


async def test_staff_see_their_organization_only(http: httpx.AsyncClient) -> None:
    mine, theirs = await make_org(), await make_org()
    customer = await make_user("customer")
    await make_booking(theirs, customer, start=DAY + timedelta(hours=9))
    staff = await make_user("dispatcher", mine)
    assert (await _get(http, "bookings", staff, **RANGE))["total"] == 0
    assert (await _get(http, "bookings", staff, org_id=str(mine.id), **RANGE))["total"] == 0
    for view in (
        "dashboard",
        "bookings",
        "drivers",
        "trucks",
        "ratings",
        "support",
        "invoices",
        "verification",
        "trends",
    ):
        foreign = await http.get(
            f"{API}/{view}", params={"org_id": str(theirs.id)}, headers=auth_headers(staff)
        )
        assert foreign.status_code == 404, view
    customer_answer = await http.get(f"{API}/bookings", headers=auth_headers(customer))
    assert customer_answer.status_code == 403


def _csv(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.text)))


async def test_csv_shapes(http: httpx.AsyncClient) -> None:
    org = await make_org()
    admin, customer = await make_user("mover_admin", org), await make_user("customer")
    driver, truck = await make_driver(org, full_name="Ada"), await make_truck(org, plate="CSV-1")
    done = await make_booking(
        org, customer, start=DAY + timedelta(hours=8), status="completed", price_cents=40000
    )
    await _assign(done, driver, truck)
    headers = {**auth_headers(admin), "Accept": "text/csv"}

    figures = _csv(await http.get(f"{API}/bookings", params=RANGE, headers=headers))
    assert figures[0] == ["metric", "key", "value"]
    assert ["scope", "", "organization"] in figures and ["from", "", "2027-04-06"] in figures
    assert ["by_status", "completed", "1"] in figures and ["total", "", "1"] in figures
    assert ["revenue_cents", "EUR", "40000"] in figures
    assert all(len(row) == 3 for row in figures)

    drivers = _csv(await http.get(f"{API}/drivers", params=RANGE, headers=headers))
    assert drivers == [
        ["driver_id", "full_name", "jobs", "completed_jobs", "on_time_jobs", "on_time_rate", "rating_avg"],
        [str(driver.id), "Ada", "1", "1", "0", "", "0.0"],
    ]

    trucks = _csv(await http.get(f"{API}/trucks", params=RANGE, headers=headers))
    assert trucks == [
        ["truck_id", "plate", "jobs", "busy_hours", "utilization", "idle_days"],
        [str(truck.id), "CSV-1", "1", "4.0", "0.2", "1"],
    ]

    trend = _csv(await http.get(f"{API}/trends", params={**RANGE, "metric": "completed"}, headers=headers))
    assert trend == [["bucket_start", "value"], ["2027-04-06", "1.0"], ["2027-04-07", "0.0"]]

    dashboard = _csv(await http.get(f"{API}/dashboard", params=RANGE, headers=headers))
    assert ["trend", "2027-04-06", "1.0"] in dashboard


async def test_bad_input_is_a_422_problem(http: httpx.AsyncClient) -> None:
    staff = await make_user("dispatcher", await make_org())
    bad = [
        ("bookings", {"from": "2027-04-07", "to": "2027-04-06"}),  # inverted
        ("bookings", {"from": "2026-01-01", "to": "2027-04-06"}),  # longer than 366 days
        ("bookings", {"from": "yesterday"}),
        ("bookings", {"from": "9999-12-31", "to": "9999-12-31"}),  # past the calendar's end
        ("trends", {"metric": "happiness"}),
        ("trends", {"bucket": "fortnight"}),
        ("trends", {"metric": "revenue_cents", "currency": "EURO"}),
        ("drivers", {"limit": "-1"}),
        ("bookings", {"org_id": "not-a-uuid"}),
    ]
    for view, params in bad:
        response = await http.get(f"{API}/{view}", params=params, headers=auth_headers(staff))
        assert response.status_code == 422, (view, params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_openapi_declares_csv_and_404(http: httpx.AsyncClient) -> None:
    paths = (await http.get("/openapi.json")).json()["paths"]
    for view in (
        "dashboard",
        "bookings",
        "drivers",
        "trucks",
        "ratings",
        "support",
        "invoices",
        "verification",
        "trends",
    ):
        answers = paths[f"{API}/{view}"]["get"]["responses"]
        assert "text/csv" in answers["200"]["content"], view
        assert {"404", "422"} <= answers.keys(), view
