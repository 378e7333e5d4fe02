"""Invoices over HTTP on the real database: drafts from bookings, gapless numbers under 50
concurrent issues, payments, the PDF (text extracted, rendered to PNG), the email through the
outbox, the overdue job with a fixed clock, and tenants that never see each other's invoices."""

from __future__ import annotations

import asyncio
import io
import re
import shutil
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pypdf import PdfReader
from sqlalchemy import func, select

from actors.jobs import JOBS
from dispatch.errors import Conflict
from dispatch.invoices.scheduled import mark_overdue_invoices
from dispatch.invoices.service import issue
from persistence.models import Document, Invoice, InvoiceCounter, Organization, OutboxEvent, User
from persistence.session import SYSTEM, tenant_session
from persistence.storage import local_storage
from tests.factories import auth_headers, caller_for, make_booking, make_org, make_user
from tests.peers.harness import (  # noqa: F401 - the *_fixture names register fixtures
    make_worker,
    parked_outbox_fixture,
    smtp_fixture,
    smtp_port,
)
from tests.peers.smtp_server import SmtpServer

API = "/api/v1/invoices"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


def _ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def _tenant(**org_fields: Any) -> tuple[Organization, User, User]:
    org = await make_org(**org_fields)
    staff = await make_user("mover_admin", org)
    customer = await make_user("customer", full_name="Grace Hopper")
    return org, staff, customer


async def _draft(
    client: httpx.AsyncClient, org: Organization, staff: User, customer: User, **payload: Any
) -> dict[str, Any]:
    booking = await make_booking(org, customer, price_cents=30_000)
    body = {"booking_id": str(booking.id), "tax_rate_bp": 1_900, **payload}
    return _ok(await client.post(API, json=body, headers=auth_headers(staff)), 201)


async def test_draft_issue_pay_lifecycle(client: httpx.AsyncClient) -> None:
    org, staff, customer = await _tenant(name="Spree Movers")
    staff_h, customer_h = auth_headers(staff), auth_headers(customer)
    draft = await _draft(client, org, staff, customer)
    assert draft["status"] == "draft" and draft["number"] is None
    assert (draft["subtotal_cents"], draft["tax_cents"], draft["total_cents"]) == (30_000, 5_700, 35_700)
    assert draft["line_items"][0]["description"].startswith("Move on ")
    # A draft is the mover's business: the customer does not see it yet.
    _problem(await client.get(f"{API}/{draft['id']}", headers=customer_h), 404)

    edited = _ok(
        await client.patch(
            f"{API}/{draft['id']}",
            headers=staff_h,
            json={
                "line_items": [
                    {
                        "description": "Move",
                        "quantity": "1",
                        "unit_price_cents": 30_000,
                        "tax_rate_bp": 1_900,
                    },
                    {
                        "description": "Packing material",
                        "quantity": "2.5",
                        "unit_price_cents": 999,
                        "tax_rate_bp": 700,
                    },
                ],
                "payment_instructions": "IBAN DE00 1234 5678 9012 3456 78",
            },
        )
    )
    assert edited["subtotal_cents"] == 30_000 + 2_498 and edited["tax_cents"] == 5_700 + 175

    issued = _ok(await client.post(f"{API}/{draft['id']}/issue", headers=staff_h))
    year = datetime.now(UTC).year
    assert issued["number"] == f"INV-{year}-{org.code}-00001"
    assert issued["status"] == "issued" and issued["due_date"] is not None
    _problem(await client.post(f"{API}/{draft['id']}/issue", headers=staff_h), 409)
    _problem(await client.patch(f"{API}/{draft['id']}", headers=staff_h, json={"notes": "late edit"}), 409)
    assert _ok(await client.get(f"{API}/{draft['id']}", headers=customer_h))["number"] == issued["number"]

    total = issued["total_cents"]
    partial = _ok(
        await client.post(
            f"{API}/{draft['id']}/payments",
            headers=staff_h,
            json={"amount_cents": 10_000, "method": "bank_transfer", "reference": "SEPA-1"},
        ),
        201,
    )
    assert partial["status"] == "issued" and partial["outstanding_cents"] == total - 10_000
    # The same bank reference twice is a double entry.
    _problem(
        await client.post(
            f"{API}/{draft['id']}/payments", headers=staff_h, json={"amount_cents": 1, "reference": "SEPA-1"}
        ),
        409,
    )
    over = _problem(
        await client.post(f"{API}/{draft['id']}/payments", headers=staff_h, json={"amount_cents": total}), 409
    )
    assert over["outstanding_cents"] == total - 10_000
    _problem(
        await client.post(f"{API}/{draft['id']}/payments", headers=staff_h, json={"amount_cents": 0}), 422
    )
    _problem(
        await client.post(f"{API}/{draft['id']}/payments", headers=customer_h, json={"amount_cents": 1}), 403
    )
    paid = _ok(
        await client.post(
            f"{API}/{draft['id']}/payments",
            headers=staff_h,
            json={"amount_cents": total - 10_000, "method": "card"},
        ),
        201,
    )
    assert paid["status"] == "paid" and paid["outstanding_cents"] == 0
    assert len(paid["payments"]) == 2
    _problem(await client.post(f"{API}/{draft['id']}/void", headers=staff_h, json={"reason": "oops"}), 409)


async def test_bad_input_is_a_clear_4xx_and_writes_nothing(client: httpx.AsyncClient) -> None:
    org, staff, customer = await _tenant()
    stranger = await make_user("customer")
    staff_h = auth_headers(staff)

    async def count() -> int:
        async with tenant_session(SYSTEM) as session:
            return int(
                await session.scalar(
                    select(func.count()).select_from(Invoice).where(Invoice.org_id == org.id)
                )
                or 0
            )

    cases: list[tuple[dict[str, Any], int]] = [
        ({}, 422),  # neither booking nor customer
        ({"customer_id": str(customer.id)}, 422),  # no lines and no booking
        ({"booking_id": str(uuid.uuid4())}, 404),
        (
            {
                "customer_id": str(stranger.id),
                "line_items": [{"description": "x", "quantity": "1", "unit_price_cents": 1}],
            },
            404,
        ),  # not served
        (
            {
                "customer_id": str(customer.id),
                "line_items": [{"description": "x", "quantity": "-1", "unit_price_cents": 100}],
            },
            422,
        ),
        (
            {
                "customer_id": str(customer.id),
                "line_items": [
                    {"description": "x", "quantity": "1", "unit_price_cents": 100, "tax_rate_bp": 10_001}
                ],
            },
            422,
        ),
        (
            {
                "customer_id": str(customer.id),
                "line_items": [{"description": "x", "quantity": "NaN", "unit_price_cents": 100}],
            },
            422,
        ),
        ({"booking_id": "nope"}, 422),
    ]
    for payload, status in cases:
        _problem(await client.post(API, json=payload, headers=staff_h), status)
    assert await count() == 0
    zero = await _draft(
        client,
        org,
        staff,
        customer,
        line_items=[{"description": "Goodwill", "quantity": "1", "unit_price_cents": 0}],
    )
    _problem(await client.post(f"{API}/{zero['id']}/issue", headers=staff_h), 422)
    voided = _ok(
        await client.post(f"{API}/{zero['id']}/void", headers=staff_h, json={"reason": "not billable"})
    )
    assert voided["status"] == "void" and voided["number"] is None


async def test_fifty_concurrent_issues_get_gapless_numbers(client: httpx.AsyncClient) -> None:
    org, staff, customer = await _tenant()
    staff_h = auth_headers(staff)
    drafts = [await _draft(client, org, staff, customer) for _ in range(50)]

    responses = await asyncio.gather(
        *(client.post(f"{API}/{d['id']}/issue", headers=staff_h) for d in drafts)
    )

    assert [r.status_code for r in responses] == [200] * 50, [
        r.text for r in responses if r.status_code != 200
    ][:3]
    year = datetime.now(UTC).year
    numbers = sorted(r.json()["number"] for r in responses)
    assert numbers == [f"INV-{year}-{org.code}-{n:05d}" for n in range(1, 51)]
    async with tenant_session(SYSTEM) as session:
        counter = await session.get(InvoiceCounter, (org.id, year))
    assert counter is not None and counter.last_number == 50


async def test_a_rolled_back_issue_leaves_no_gap(client: httpx.AsyncClient) -> None:
    org, staff, customer = await _tenant()
    first, second = [await _draft(client, org, staff, customer) for _ in range(2)]
    caller = caller_for(staff)
    with pytest.raises(Conflict):
        async with tenant_session(caller) as session:
            numbered = await issue(session, caller, uuid.UUID(first["id"]), "http://invoices.test")
            assert numbered.number is not None and numbered.number.endswith("-00001")
            raise Conflict("the rest of the use case failed")  # the transaction rolls back
    issued = _ok(await client.post(f"{API}/{second['id']}/issue", headers=auth_headers(staff)))
    assert issued["number"].endswith("-00001")


def _pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


async def test_pdf_shows_the_invoice_and_is_stored(client: httpx.AsyncClient) -> None:
    org, staff, customer = await _tenant(name="Kreuzberg Removals", contact_email="hi@kr.test")
    staff_h, customer_h = auth_headers(staff), auth_headers(customer)
    draft = await _draft(
        client,
        org,
        staff,
        customer,
        line_items=[
            {
                "description": "Crew of 3, 4.5 hours",
                "quantity": "4.5",
                "unit_price_cents": 13_500,
                "tax_rate_bp": 1_900,
            },
            {"description": "Moving boxes", "quantity": "20", "unit_price_cents": 250, "tax_rate_bp": 1_900},
            {
                "description": "Piano surcharge",
                "quantity": "1",
                "unit_price_cents": 15_000,
                "tax_rate_bp": 1_900,
            },
        ],
        payment_instructions="Transfer to IBAN DE89 3704 0044 0532 0130 00, reference = number.",
    )
    issued = _ok(await client.post(f"{API}/{draft['id']}/issue", headers=staff_h))

    response = await client.get(f"{API}/{draft['id']}/pdf", headers=customer_h)
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    text = _pdf_text(response.content)
    for expected in (
        "Kreuzberg Removals",
        org.code,
        f"Invoice {issued['number']}",
        "Status: ISSUED",
        "Grace Hopper",
        "Crew of 3, 4.5 hours",
        "Moving boxes",
        "Piano surcharge",
        "EUR 807.50",
        "EUR 153.43",
        "EUR 960.93",
        "Payment instructions",
        "DE89 3704 0044 0532 0130 00",
    ):
        assert expected in text, (expected, text)

    async with tenant_session(SYSTEM) as session:
        invoice = await session.get_one(Invoice, uuid.UUID(draft["id"]))
        document = await session.get_one(Document, invoice.pdf_document_id)
    assert document.purpose == "invoice_pdf" and document.status == "stored"
    stored = await local_storage().get(document.storage_key)
    assert stored == response.content and len(stored) == document.size_bytes

    ARTIFACTS.mkdir(exist_ok=True)
    pdf_path = ARTIFACTS / "invoice-example.pdf"
    pdf_path.write_bytes(response.content)
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm is not installed")
    subprocess.run(
        ["pdftoppm", "-png", "-r", "80", "-singlefile", str(pdf_path), str(ARTIFACTS / "invoice-example")],
        check=True,
        timeout=60,
    )
    png = ARTIFACTS / "invoice-example.png"
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and png.stat().st_size > 10_000

    # Paid: a new version, so a new PDF that says so.
    _ok(
        await client.post(
            f"{API}/{draft['id']}/payments", headers=staff_h, json={"amount_cents": issued["total_cents"]}
        ),
        201,
    )
    paid_pdf = await client.get(f"{API}/{draft['id']}/pdf", headers=staff_h)
    assert "Status: PAID" in _pdf_text(paid_pdf.content)


async def test_invoice_email_goes_through_the_outbox(
    app: FastAPI, client: httpx.AsyncClient, smtp: SmtpServer, parked_outbox: None
) -> None:
    org, staff, customer = await _tenant(name="Mitte Movers")
    draft = await _draft(client, org, staff, customer)
    issued = _ok(await client.post(f"{API}/{draft['id']}/issue", headers=auth_headers(staff)))
    async with tenant_session(SYSTEM) as session:
        event = await session.scalar(
            select(OutboxEvent).where(OutboxEvent.idempotency_key == f"notify.invoice_delivery:{draft['id']}")
        )
    assert event is not None and event.payload["context"]["invoice_number"] == issued["number"]
    # The link is built from the app's own settings, handed to the service by the route.
    assert event.payload["context"]["download_url"] == (
        app.state.settings.public_base_url.rstrip("/") + f"/api/v1/invoices/{draft['id']}/pdf"
    )

    await make_worker(smtp_port(smtp), _NoSms()).drain_once()

    [mail] = smtp.mailbox.to(customer.email or "")
    assert issued["number"] in mail["Subject"] and "Mitte Movers" in mail["Subject"]
    body = mail.get_body(("plain",)).get_content()
    assert "EUR 357.00" in body
    assert re.search(rf"/api/v1/invoices/{draft['id']}/pdf", body)


class _NoSms:
    name = "none"

    async def send(self, to: str, body: str) -> str:  # pragma: no cover - never asked
        raise AssertionError("no SMS expected")


async def test_overdue_job_with_a_fixed_clock(client: httpx.AsyncClient) -> None:
    org, staff, customer = await _tenant()
    staff_h = auth_headers(staff)
    due_soon = await _draft(client, org, staff, customer, payment_terms_days=7)
    due_later = await _draft(client, org, staff, customer, payment_terms_days=30)
    for draft in (due_soon, due_later):
        _ok(await client.post(f"{API}/{draft['id']}/issue", headers=staff_h))
    assert "invoices_overdue" in {job.name for job in JOBS}
    now = datetime.now(UTC)

    await mark_overdue_invoices(now + timedelta(days=7))  # the due day itself: still on time
    assert _ok(await client.get(f"{API}/{due_soon['id']}", headers=staff_h))["status"] == "issued"
    assert await mark_overdue_invoices(now + timedelta(days=9)) >= 1
    overdue = _ok(await client.get(f"{API}/{due_soon['id']}", headers=staff_h))
    assert overdue["status"] == "overdue"
    assert _ok(await client.get(f"{API}/{due_later['id']}", headers=staff_h))["status"] == "issued"
    listed = _ok(await client.get(API, headers=staff_h, params={"status": "overdue"}))
    assert [item["id"] for item in listed["items"]] == [due_soon["id"]]
    paid = _ok(
        await client.post(
            f"{API}/{due_soon['id']}/payments", headers=staff_h, json={"amount_cents": overdue["total_cents"]}
        ),
        201,
    )
    assert paid["status"] == "paid"


async def test_tenants_never_see_each_others_invoices(client: httpx.AsyncClient) -> None:
    org_a, staff_a, customer_a = await _tenant()
    _, staff_b, customer_b = await _tenant()
    draft = await _draft(client, org_a, staff_a, customer_a)
    _ok(await client.post(f"{API}/{draft['id']}/issue", headers=auth_headers(staff_a)))
    admin = await make_user("platform_admin")
    driver_user = await make_user("driver", org_a)

    for outsider in (staff_b, customer_b, driver_user):
        headers = auth_headers(outsider)
        for path in ("", "/pdf"):
            _problem(await client.get(f"{API}/{draft['id']}{path}", headers=headers), 404)
        listed = _ok(await client.get(API, headers=headers))
        assert draft["id"] not in {item["id"] for item in listed["items"]}
    for method, path, body in (
        ("post", "/issue", None),
        ("post", "/payments", {"amount_cents": 1}),
        ("post", "/void", {"reason": "x"}),
        ("patch", "", {"notes": "x"}),
    ):
        _problem(
            await client.request(
                method, f"{API}/{draft['id']}{path}", json=body, headers=auth_headers(staff_b)
            ),
            404,
        )
    # Org B's staff cannot invoice org A's booking either.
    booking_a = await make_booking(org_a, customer_a)
    _problem(
        await client.post(API, json={"booking_id": str(booking_a.id)}, headers=auth_headers(staff_b)), 404
    )

    for insider in (staff_a, customer_a, admin):
        headers = auth_headers(insider)
        assert _ok(await client.get(f"{API}/{draft['id']}", headers=headers))["id"] == draft["id"]
        pdf = await client.get(f"{API}/{draft['id']}/pdf", headers=headers)
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
