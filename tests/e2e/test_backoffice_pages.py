"""The back-office pages in headless Chromium against a real gateway process.

Fleet calendar (drivers by day, free gaps, moves that are manual assignments and refusals
that leave the database as it was), analytics (SVG charts from the views), invoices (PDF,
a recorded payment changes the row and the invoice) and the platform admins' verification
queue (open the document, approve, reject with a reason). Every page runs under the
gateway's CSP with a violation listener, and leaves a screenshot in test-artifacts/.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page
from sqlalchemy import select

from dispatch.auth.tokens import issue_access_token
from persistence.config import get_settings
from persistence.models import Booking, BookingAssignment, User
from persistence.models.invoices import Invoice
from persistence.models.verification import VerificationSubmission
from persistence.session import SYSTEM, tenant_session
from persistence.statuses import BookingStatus
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_board_page import sign_in_with_code
from tests.factories import (
    auth_headers,
    caller_for,
    make_booking,
    make_driver,
    make_org,
    make_truck,
    make_user,
)

pytestmark = [pytest.mark.e2e, pytest.mark.ray]

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
CONFLICT_LOG = "the server responded with a status of 409"


@dataclass
class Watched:
    page: Page
    console: list[str] = field(default_factory=list)
    # Console errors the test expects (a refused request is logged by Chromium itself).
    expected: dict[str, int] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)  # answers >= 400, for the messages


@pytest.fixture
async def watched(browser: Browser) -> AsyncIterator[Watched]:
    context = await browser.new_context(viewport={"width": 1440, "height": 900}, timezone_id="UTC")
    await context.add_init_script(RECORD_VIOLATIONS)
    page = await context.new_page()
    seen = Watched(page)
    page.on("console", lambda m: seen.console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: seen.console.append(f"pageerror: {e}"))
    page.on(
        "response",
        lambda r: seen.refused.append(f"{r.status} {r.request.method} {r.url}") if r.status >= 400 else None,
    )
    try:
        yield seen
        assert await page.evaluate("() => window.__csp") == []
    finally:
        await context.close()
    errors = [m for m in seen.console if m.startswith(("error", "pageerror"))]
    for text, times in seen.expected.items():
        matching = [m for m in errors if text in m]
        assert len(matching) == times, (text, errors, seen.refused)
        errors = [m for m in errors if text not in m]
    assert not errors, (errors, seen.refused)
    assert not [m for m in seen.console if "Content Security Policy" in m]


def link(user: User) -> str:
    return f"token={issue_access_token(caller_for(user), get_settings())}"


async def open_page(seen: Watched, url: str) -> None:
    response = await seen.page.goto(url)
    assert response is not None and response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    await seen.page.wait_for_function(
        "() => window.__backoffice && window.__backoffice.ready", timeout=30_000
    )


async def result(page: Page, selector: str) -> tuple[str, str]:
    """A status line once it says ok or error: (kind, text)."""
    await page.wait_for_function(
        "(s) => ['ok', 'error'].some((k) => document.querySelector(s).classList.contains(k))",
        arg=selector,
        timeout=15_000,
    )
    kind = "ok" if "ok" in (await page.locator(selector).get_attribute("class") or "") else "error"
    return kind, await page.inner_text(selector)


async def reset_result(page: Page, selector: str) -> None:
    await page.evaluate(
        "(s) => { const n = document.querySelector(s); n.className = 'result'; n.textContent = ''; }",
        selector,
    )


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / name), full_page=True)


async def active_assignment(booking_id: uuid.UUID) -> BookingAssignment | None:
    async with tenant_session(SYSTEM) as session:
        return (
            await session.scalars(
                select(BookingAssignment).where(
                    BookingAssignment.booking_id == booking_id, BookingAssignment.active.is_(True)
                )
            )
        ).one_or_none()


async def stored(model: type, key: object) -> Any:
    async with tenant_session(SYSTEM) as session:
        return await session.get(model, key)


# --- fleet calendar -----------------------------------------------------------------------


async def test_calendar_shows_drivers_by_day_and_moves_jobs_as_manual_assignments(
    gateway_url: str, watched: Watched
) -> None:
    page = watched.page
    org = await make_org(name="Calendar E2E Movers")
    dispatcher = await make_user(
        "dispatcher", org, full_name="Dora Dispatch", email=f"cal-{uuid.uuid4().hex[:8]}@example.com"
    )
    anna = await make_driver(org, full_name="Anna Adler")
    ben = await make_driver(org, full_name="Ben Brandt")
    cara = await make_driver(org, full_name="Cara Czech")
    trucks = [await make_truck(org, plate=f"B-CAL {n}") for n in (1, 2, 3)]
    customer = await make_user("customer")
    day = date.today() + timedelta(days=2)

    def at(hour: int) -> datetime:
        return datetime.combine(day, time(hour), tzinfo=UTC)

    j1 = await make_booking(
        org, customer, start=at(9), hours=4, pickup_address="Torstrasse 1"
    )  # Anna, truck 1
    j2 = await make_booking(
        org, customer, start=at(9), hours=3, pickup_address="Kastanienallee 2"
    )  # Ben, truck 2
    j3 = await make_booking(
        org, customer, start=at(14), hours=3, pickup_address="Oranienstrasse 3"
    )  # nobody yet
    j4 = await make_booking(
        org, customer, start=at(14), hours=2, pickup_address="Boxhagener Str 4"
    )  # Cara, truck 3
    async with httpx.AsyncClient(base_url=gateway_url, headers=auth_headers(dispatcher)) as http:
        for booking, driver, truck in ((j1, anna, trucks[0]), (j2, ben, trucks[1]), (j4, cara, trucks[2])):
            answer = await http.post(
                f"/api/v1/bookings/{booking.id}/assign",
                json={"driver_id": str(driver.id), "truck_id": str(truck.id)},
            )
            assert answer.status_code == 201, answer.text

    # Signed in through the board's one-time-code form, shared by the page.
    await page.goto(f"{gateway_url}/backoffice/calendar?start={day.isoformat()}")
    await sign_in_with_code(page, str(dispatcher.email))
    watched.expected["status of 401"] = 1  # GET /auth/me before signing in
    await page.wait_for_function("() => window.__backoffice.ready", timeout=30_000)
    assert await page.locator('nav.nav a[aria-current="page"]').inner_text() == "Calendar"

    def job(booking: Booking) -> str:
        return f'.job[data-booking-id="{booking.id}"]'

    def row(driver_id: uuid.UUID | None) -> str:
        return f'#calendar tbody tr[data-driver-id="{driver_id or ""}"]'

    # Drivers by day: day 0 is the chosen date; each job in its driver's row, j3 unassigned.
    for booking, driver_id in ((j1, anna.id), (j2, ben.id), (j3, None), (j4, cara.id)):
        cell = page.locator(f'{row(driver_id)} td[data-day="0"] {job(booking)}')
        assert await cell.count() == 1, booking.pickup_address
    # Free gaps: the page's are the server's (GET /calendar/drivers/{id}) for the same week.
    week = {"start": at(0).isoformat(), "end": (at(0) + timedelta(days=7)).isoformat()}
    async with httpx.AsyncClient(base_url=gateway_url, headers=auth_headers(dispatcher)) as http:
        for driver in (anna, ben, cara):
            schedule = await http.get(f"/api/v1/calendar/drivers/{driver.id}", params=week)
            assert schedule.status_code == 200, schedule.text
            server_gaps = [
                (datetime.fromisoformat(g["start"]), datetime.fromisoformat(g["end"]))
                for g in schedule.json()["free"]
            ]
            page_gaps = [
                (datetime.fromisoformat(a), datetime.fromisoformat(b))
                for a, b in await page.evaluate(
                    """(id) => window.__backoffice.calendar.free.get(id)
                             .map((g) => [g.start.toISOString(), g.end.toISOString()])""",
                    str(driver.id),
                )
            ]
            assert page_gaps == server_gaps and len(server_gaps) == 2, driver.full_name
    # Shown inside the 07:00-20:00 working day.
    free = f'{row(anna.id)} td[data-day="0"] .free-text'
    assert await page.inner_text(free) == "free 07:00–09:00, 13:00–20:00"
    assert await page.inner_text(f'{row(anna.id)} td[data-day="1"] .free-text') == "free 07:00–20:00"

    # 1. Moving Anna's job to Ben, who is busy then: refused before anything is released.
    await page.click(job(j1))
    await page.select_option("#move-driver", str(ben.id))
    await page.select_option("#move-truck", str(trucks[0].id))
    await page.click("#move-submit")
    kind, text = await result(page, "#move-result")
    assert kind == "error" and "already booked" in text and str(j2.id)[:8] in text, text
    held = await active_assignment(j1.id)
    assert held is not None and (held.driver_id, held.truck_id) == (anna.id, trucks[0].id)
    assert (await stored(Booking, j1.id)).status == BookingStatus.ASSIGNED

    # 2. Giving the unassigned job to Cara (busy 14-16): the server's own 409 reason is shown
    #    and nothing is written.
    await reset_result(page, "#move-result")
    await page.click(job(j3))
    await page.select_option("#move-driver", str(cara.id))
    await page.select_option("#move-truck", str(trucks[1].id))
    await page.click("#move-submit")
    kind, text = await result(page, "#move-result")
    assert kind == "error", text
    assert text == f"the driver or truck is already booked (booking {j4.id})"
    watched.expected[CONFLICT_LOG] = 1
    assert await active_assignment(j3.id) is None
    assert (await stored(Booking, j3.id)).status == BookingStatus.CONFIRMED

    # 3. Moving Anna's job to Cara (free in the morning), same truck: a manual assignment.
    await reset_result(page, "#move-result")
    await page.click(job(j1))
    await page.select_option("#move-driver", str(cara.id))
    await page.select_option("#move-truck", str(trucks[0].id))
    await page.click("#move-submit")
    kind, text = await result(page, "#move-result")
    assert kind == "ok" and "Cara Czech" in text and "manual" in text, text
    moved = await active_assignment(j1.id)
    assert moved is not None and (moved.driver_id, moved.truck_id) == (cara.id, trucks[0].id)
    assert moved.method == "manual"
    await page.locator(f'{row(cara.id)} td[data-day="0"] {job(j1)}').wait_for()
    assert await page.locator(f"{row(anna.id)} {job(j1)}").count() == 0
    assert await page.inner_text(free) == "free 07:00–20:00"

    # 4. Dragging the unassigned job onto Anna's (now free) day assigns it, with the truck
    #    chosen in the form.
    await reset_result(page, "#move-result")
    await page.click(job(j3))
    await page.select_option("#move-truck", str(trucks[1].id))
    await page.drag_and_drop(job(j3), f'{row(anna.id)} td[data-day="0"]')
    kind, text = await result(page, "#move-result")
    assert kind == "ok" and "Anna Adler" in text, text
    dragged = await active_assignment(j3.id)
    assert dragged is not None and (dragged.driver_id, dragged.truck_id) == (anna.id, trucks[1].id)
    await page.locator(f'{row(anna.id)} td[data-day="0"] {job(j3)}').wait_for()
    moves = await page.evaluate("() => window.__backoffice.calendar.moves.map(m => m.ok)")
    assert moves == [False, False, True, True]
    await page.click(job(j1))
    await shot(page, "calendar.png")


# --- analytics ----------------------------------------------------------------------------


async def test_analytics_draws_svg_charts_from_the_views(gateway_url: str, watched: Watched) -> None:
    page = watched.page
    org = await make_org(name="Analytics E2E Movers")
    admin = await make_user("mover_admin", org, full_name="Ada Admin")
    platform = await make_user("platform_admin", None, full_name="Pat Platform")
    customer = await make_user("customer")
    base = datetime.combine(date.today() - timedelta(days=6), time(9), tzinfo=UTC)
    made = [
        await make_booking(org, customer, start=base, status="completed", price_cents=40000),
        await make_booking(
            org, customer, start=base + timedelta(days=1), status="completed", price_cents=25000
        ),
        await make_booking(org, customer, start=base + timedelta(days=2), status="cancelled"),
        await make_booking(org, customer, start=base + timedelta(days=9)),  # confirmed, ahead
    ]
    await open_page(watched, f"{gateway_url}/backoffice/analytics?{link(admin)}")

    assert await page.inner_text('[data-kpi="bookings"] b') == str(len(made))
    assert await page.inner_text('[data-kpi="completed_jobs"] b') == "2"
    # Bookings by status: one bar per status present, drawn in SVG.
    bars = await page.evaluate("""() => Object.fromEntries([...document.querySelectorAll(
        '#chart-status svg g.bar')].map((g) => [g.dataset.label, Number(g.dataset.value)]))""")
    assert bars == {"completed": 2, "cancelled": 1, "confirmed": 1}
    assert await page.locator("#chart-status svg rect").count() == 3
    # Bookings per day: a polyline whose points add up to every booking in the range.
    per_day = await page.evaluate("""() => [...document.querySelectorAll(
        '#chart-trend g.series[data-series="bookings"] circle')].map((c) => Number(c.dataset.value))""")
    assert sum(per_day) == len(made) and len(per_day) >= 10
    assert await page.locator("#chart-trend svg polyline").count() == 2
    # Revenue per day: the two completed days.
    revenue = await page.evaluate("""() => [...document.querySelectorAll(
        '#chart-revenue g.bar')].map((g) => Number(g.dataset.value))""")
    assert sorted(revenue) == [25000, 40000]
    # A narrower range redraws from the server: only the day of the cancellation.
    cancelled_day = (base + timedelta(days=2)).date().isoformat()
    loads = await page.evaluate("() => window.__backoffice.loads")
    await page.fill("#range-start", cancelled_day)
    await page.fill("#range-end", cancelled_day)
    await page.click("#range-submit")
    await page.wait_for_function("(n) => window.__backoffice.loads > n", arg=loads)
    assert await page.inner_text('[data-kpi="bookings"] b') == "1"
    bars = await page.evaluate("""() => [...document.querySelectorAll(
        '#chart-status svg g.bar')].map((g) => g.dataset.label)""")
    assert bars == ["cancelled"]
    # Back to a wider picture for the screenshot.
    await page.fill("#range-start", (base - timedelta(days=3)).date().isoformat())
    await page.fill("#range-end", (base + timedelta(days=12)).date().isoformat())
    loads = await page.evaluate("() => window.__backoffice.loads")
    await page.click("#range-submit")
    await page.wait_for_function("(n) => window.__backoffice.loads > n", arg=loads)
    await shot(page, "analytics.png")

    # Platform admins drill into one organization (the nine-view API's ?org_id=), and any
    # view downloads as CSV.
    assert await page.evaluate("() => window.__backoffice.analytics.newer"), (
        "the page fell back to the four-view analytics API"
    )
    assert await page.locator("#org-row").is_hidden()  # staff see their own organization
    await page.goto(f"{gateway_url}/backoffice/analytics?{link(platform)}")
    await page.wait_for_function("() => window.__backoffice.ready", timeout=30_000)
    await page.locator("#org-row").wait_for()
    loads = await page.evaluate("() => window.__backoffice.loads")
    await page.select_option("#range-org", str(org.id))
    await page.wait_for_function("(n) => window.__backoffice.loads > n", arg=loads)
    assert await page.inner_text('[data-kpi="bookings"] b') == str(len(made))
    assert "Analytics E2E Movers" in await page.inner_text("#range-scope")
    await page.select_option("#csv-view", "bookings")
    async with page.expect_download() as downloading:
        await page.click("#csv-download")
    download = await downloading.value
    assert download.suggested_filename.startswith("movehub-bookings-")
    rows = await page.evaluate("() => window.__backoffice.analytics.downloads")
    assert rows[-1]["view"] == "bookings" and rows[-1]["lines"] > 3


# --- invoices -----------------------------------------------------------------------------


async def test_invoices_open_the_pdf_and_record_a_payment(gateway_url: str, watched: Watched) -> None:
    page = watched.page
    org = await make_org(name="Invoice E2E Movers")
    admin = await make_user("mover_admin", org, full_name="Ines Invoice")
    customer = await make_user("customer", full_name="Carl Customer")
    booking = await make_booking(org, customer, status="completed", price_cents=30000)
    async with httpx.AsyncClient(base_url=gateway_url, headers=auth_headers(admin)) as http:
        created = await http.post("/api/v1/invoices", json={"booking_id": str(booking.id)})
        assert created.status_code == 201, created.text
        invoice_id = created.json()["id"]
        issued = await http.post(f"/api/v1/invoices/{invoice_id}/issue")
        assert issued.status_code == 200, issued.text
        draft = await http.post(
            "/api/v1/invoices",
            json={
                "customer_id": str(customer.id),
                "currency": "EUR",
                "line_items": [{"description": "Packing boxes", "quantity": "10", "unit_price_cents": 300}],
            },
        )
        assert draft.status_code == 201, draft.text
    number = issued.json()["number"]

    await open_page(watched, f"{gateway_url}/backoffice/invoices?{link(admin)}")
    row = page.locator(f'#invoices tr[data-invoice-id="{invoice_id}"]')
    assert await page.locator("#invoices tbody tr").count() == 2
    assert number in await row.inner_text()
    assert await row.get_attribute("data-paid-cents") == "0"
    await row.click()
    await page.wait_for_function("(n) => document.querySelector('#inv-number').textContent === n", arg=number)
    assert await page.input_value("#pay-amount") == "300.00"

    # The PDF, fetched with the page's credentials and opened in a new tab.
    async with page.context.expect_page() as opened:
        await page.click("#inv-pdf")
    popup = await opened.value
    assert popup.url.startswith("blob:")
    pdf = await page.evaluate("() => window.__backoffice.invoices.pdf")
    assert pdf["invoice_id"] == invoice_id and pdf["head"] == "%PDF-" and pdf["size"] > 500
    await popup.close()

    # A partial payment: the row and the invoice both change.
    await page.fill("#pay-amount", "120.50")
    await page.select_option("#pay-method", "cash")
    await page.fill("#pay-reference", "till receipt 77")
    await page.click("#pay-submit")
    kind, text = await result(page, "#pay-result")
    assert kind == "ok" and "179,50" in text.replace(".", ","), text
    await page.wait_for_function(
        '(id) => document.querySelector(`#invoices tr[data-invoice-id="${id}"]`)'
        "?.dataset.paidCents === '12050'",
        arg=invoice_id,
    )
    assert "120.50" in await row.locator("td.paid").inner_text()
    assert "179.50" in await row.locator("td.outstanding").inner_text()
    saved = await stored(Invoice, uuid.UUID(invoice_id))
    assert saved.paid_cents == 12050
    assert await row.get_attribute("data-status") == saved.status
    assert "till receipt 77" in await page.inner_text("#inv-facts")
    await shot(page, "invoices.png")

    # Paying more than is owed: the server's refusal is shown, nothing changes.
    await reset_result(page, "#pay-result")
    await page.fill("#pay-amount", "500")
    await page.click("#pay-submit")
    kind, text = await result(page, "#pay-result")
    assert kind == "error", text
    watched.expected["the server responded with a status of 4"] = 1
    assert (await stored(Invoice, uuid.UUID(invoice_id))).paid_cents == 12050


# --- verification queue -------------------------------------------------------------------


async def test_admin_opens_approves_and_rejects_verification_documents(
    gateway_url: str, watched: Watched
) -> None:
    page = watched.page
    org = await make_org(name="Verification E2E Movers", verified=False)
    mover = await make_user("mover_admin", org)
    admin = await make_user("platform_admin", None, full_name="Pia Platform")
    submissions = {}
    async with httpx.AsyncClient(base_url=gateway_url, headers=auth_headers(mover)) as http:
        for kind in ("business_license", "liability_insurance"):
            uploaded = await http.post(
                "/api/v1/documents",
                data={"purpose": "verification"},
                files={"file": (f"{kind}.pdf", PDF, "application/pdf")},
            )
            assert uploaded.status_code == 201, uploaded.text
            body = {
                "subject_type": "organization",
                "subject_id": str(org.id),
                "kind": kind,
                "document_id": uploaded.json()["id"],
                "expires_on": (date.today() + timedelta(days=365)).isoformat(),
            }
            submitted = await http.post("/api/v1/verification/submissions", json=body)
            assert submitted.status_code == 201, submitted.text
            submissions[kind] = submitted.json()["id"]

    # Mover staff are not shown the queue: the page asks for a platform admin.
    await page.goto(f"{gateway_url}/backoffice/verification?{link(mover)}")
    await page.locator("#signin").wait_for(state="visible")
    assert "platform admins" in await page.inner_text("#signin-note")
    await page.evaluate("() => sessionStorage.clear()")

    await open_page(watched, f"{gateway_url}/backoffice/verification?{link(admin)}")
    license_row = page.locator(f'#queue tr[data-submission-id="{submissions["business_license"]}"]')
    insurance_row = page.locator(f'#queue tr[data-submission-id="{submissions["liability_insurance"]}"]')
    assert await license_row.get_attribute("data-status") == "pending"
    assert "Verification E2E Movers" in await license_row.inner_text()
    assert await insurance_row.count() == 1

    # Open the document: taken into review, the signed download opens in a new tab.
    await license_row.click()
    async with page.context.expect_page() as opened:
        await page.click("#sub-open")
    await opened.value  # the signed link opens in a tab (a PDF from local storage downloads)
    links = await page.evaluate("() => window.__backoffice.verification.opened")
    assert [item["submission_id"] for item in links] == [submissions["business_license"]]
    async with httpx.AsyncClient() as http:
        document = await http.get(links[0]["url"])
    assert document.status_code == 200 and document.content == PDF
    assert (
        await stored(VerificationSubmission, uuid.UUID(submissions["business_license"]))
    ).status == "under_review"
    assert await license_row.get_attribute("data-status") == "under_review"
    await shot(page, "verification.png")

    await reset_result(page, "#sub-result")
    await page.click("#sub-approve")
    kind, text = await result(page, "#sub-result")
    assert kind == "ok" and "approved" in text, text
    await license_row.wait_for(state="detached")
    decided = await stored(VerificationSubmission, uuid.UUID(submissions["business_license"]))
    assert decided.status == "approved" and decided.reviewer_id == admin.id

    # Reject with a reason: stored as given, and the row leaves the queue.
    await reset_result(page, "#sub-result")
    reason = "The policy number is unreadable; upload a sharper scan."
    await insurance_row.click()
    await page.fill("#reject-reason", reason)
    await page.click("#reject-submit")
    kind, text = await result(page, "#sub-result")
    assert kind == "ok" and reason in text, text
    await insurance_row.wait_for(state="detached")
    rejected = await stored(VerificationSubmission, uuid.UUID(submissions["liability_insurance"]))
    assert rejected.status == "rejected" and rejected.rejection_reason == reason
