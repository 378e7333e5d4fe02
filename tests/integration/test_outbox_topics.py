"""After-commit work that used to run as request background tasks, now outbox topics enqueued by
the use case: the invoice PDF (`invoice.render_pdf`) and the shard's note of an assignment
(`fleet.assignment_noted`, and `fleet.changed` when the crew is released)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from persistence.config import get_settings
from persistence.integrations.email.log import LogEmail
from persistence.integrations.sms.log import LogSms
from persistence.models import Document, Invoice, OutboxEvent
from persistence.session import SYSTEM, tenant_session
from tests.factories import auth_headers, make_booking, make_driver, make_org, make_truck, make_user
from tests.peers.harness import make_worker, parked_outbox_fixture  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("parked_outbox")


async def _rows(topic: str, org_id: uuid.UUID) -> list[OutboxEvent]:
    async with tenant_session(SYSTEM) as session:
        return list(
            (
                await session.scalars(
                    select(OutboxEvent).where(OutboxEvent.topic == topic, OutboxEvent.org_id == org_id)
                )
            ).all()
        )


def _soon() -> datetime:
    return datetime.now(UTC) + timedelta(seconds=1)


async def test_issuing_queues_the_pdf_and_the_outbox_stores_it(client: httpx.AsyncClient) -> None:
    org = await make_org()
    staff, customer = await make_user("mover_admin", org), await make_user("customer")
    booking = await make_booking(org, customer, price_cents=30_000)
    draft = await client.post(
        "/api/v1/invoices",
        headers=auth_headers(staff),
        json={"booking_id": str(booking.id), "tax_rate_bp": 1_900},
    )
    assert draft.status_code == 201, draft.text
    invoice_id = uuid.UUID(draft.json()["id"])
    issued = await client.post(f"/api/v1/invoices/{invoice_id}/issue", headers=auth_headers(staff))
    assert issued.status_code == 200, issued.text

    [row] = await _rows("invoice.render_pdf", org.id)
    async with tenant_session(SYSTEM) as session:
        invoice = await session.get_one(Invoice, invoice_id)
    assert row.payload == {"invoice_id": str(invoice_id), "version": invoice.version}
    assert invoice.pdf_document_id is None  # nothing rendered inside the request

    await make_worker(LogEmail(), LogSms()).drain_once(_soon())
    async with tenant_session(SYSTEM) as session:
        invoice = await session.get_one(Invoice, invoice_id)
        assert invoice.pdf_document_id is not None
        document = await session.get_one(Document, invoice.pdf_document_id)
    assert invoice.pdf_version == invoice.version and document.status == "stored"
    assert [r.status for r in await _rows("invoice.render_pdf", org.id)] == ["delivered"]


@pytest.mark.skipif(not get_settings().ray_enabled, reason="needs the Ray fleet")
async def test_the_shard_hears_of_an_assignment_and_its_release_through_the_outbox(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    org = await make_org()
    staff, customer = await make_user("dispatcher", org), await make_user("customer")
    driver, truck = await make_driver(org), await make_truck(org)
    fleet = app.state.fleet
    await fleet.refresh_org(org.id)  # the shard's view before the assignment
    start = (datetime.now(UTC) + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    booking = await make_booking(org, customer, start=start)
    assigned = await client.post(
        f"/api/v1/bookings/{booking.id}/assign",
        headers=auth_headers(staff),
        json={"driver_id": str(driver.id), "truck_id": str(truck.id)},
    )
    assert assigned.status_code == 201, assigned.text
    [noted] = await _rows("fleet.assignment_noted", org.id)
    assert noted.payload["driver_id"] == str(driver.id) and noted.status == "pending"
    assert (await fleet.state_of(org.id))["busy"] == []  # the request itself told no shard

    worker = make_worker(LogEmail(), LogSms())
    await worker.drain_once(_soon())
    busy = (await fleet.state_of(org.id))["busy"]
    assert [(d, s) for d, s, _ in busy] == [(str(driver.id), start.timestamp())]

    freed = await client.delete(f"/api/v1/bookings/{booking.id}/assignment", headers=auth_headers(staff))
    assert freed.status_code == 200, freed.text
    await worker.drain_once(_soon())  # fleet.changed: the shard reloads the org
    assert (await fleet.state_of(org.id))["busy"] == []
    assert {r.status for r in await _rows("fleet.changed", org.id)} == {"delivered"}
