"""The S3 adapter through boto3 against moto's S3 server (real HTTP on a local port): the port's
operations, presigned POST forms and their conditions, presigned GETs, and the document upload
flow of the API with S3 as its store.

moto 5.2 accepts every presigned POST whatever its policy says (it checks neither
`content-length-range` nor the Content-Type condition; AWS does). The tests therefore accept
either answer from moto for a form-breaking upload, and require that MoveHub's confirm step
refuses the object if moto stored it: defense in depth, not trust in the store.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from persistence.config import get_settings
from persistence.storage import ObjectMissing
from tests.factories import auth_headers, make_org, make_user
from tests.peers.moto_server import (  # noqa: F401 - the *_fixture names register fixtures
    MotoS3,
    moto_endpoint_fixture,
    moto_s3_fixture,
)

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
HTML = b"<!doctype html><script>alert(1)</script>"
API = "/api/v1/documents"


def _policy(fields: dict[str, str]) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(base64.b64decode(fields["policy"]))
    return decoded


async def _post_form(
    url: str, fields: dict[str, str], content: bytes, file_type: str = "application/pdf"
) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(url, data=fields, files={"file": ("f.pdf", content, file_type)})


async def test_port_round_trip(moto_s3: MotoS3) -> None:
    storage = moto_s3.storage()
    key = "documents/test/round-trip.pdf"
    assert await storage.head(key) is None
    with pytest.raises(ObjectMissing):
        await storage.get(key)
    await storage.put(key, PDF, "application/pdf")
    info = await storage.head(key)
    assert info is not None and info.size_bytes == len(PDF)
    assert info.content_type == "application/pdf"
    assert await storage.get(key) == PDF
    await storage.delete(key)
    assert await storage.head(key) is None


async def test_presigned_post_carries_the_conditions_and_uploads(moto_s3: MotoS3) -> None:
    storage = moto_s3.storage()
    form = storage.presigned_post("documents/test/a.pdf", "application/pdf", 1024, 300)
    conditions = _policy(form.fields)["conditions"]
    assert ["content-length-range", 1, 1024] in conditions
    assert {"Content-Type": "application/pdf"} in conditions
    assert {"key": "documents/test/a.pdf"} in conditions
    assert form.url.startswith(moto_s3.endpoint_url)

    accepted = await _post_form(form.url, form.fields, PDF)
    assert accepted.status_code == 204, accepted.text
    assert await storage.get("documents/test/a.pdf") == PDF

    link = storage.presigned_get("documents/test/a.pdf", 60, filename="a.pdf", content_type="application/pdf")
    assert parse_qs(urlsplit(link).query)["X-Amz-Expires"] == ["60"]
    async with httpx.AsyncClient(timeout=10) as http:
        downloaded = await http.get(link)
    assert downloaded.status_code == 200 and downloaded.content == PDF
    assert downloaded.headers["content-type"] == "application/pdf"
    assert downloaded.headers["content-disposition"] == 'attachment; filename="a.pdf"'


@pytest.fixture
def s3_app(app: FastAPI, moto_s3: MotoS3) -> Iterator[MotoS3]:
    """The app with moto's S3 as its store for this test (the routes get it through StorageDep,
    from the ports the app built once)."""
    previous = app.state.ports
    app.state.ports = dataclasses.replace(previous, storage=moto_s3.storage())
    yield moto_s3
    app.state.ports = previous


async def _ticket(client: httpx.AsyncClient, headers: dict[str, str]) -> tuple[str, Any]:
    response = await client.post(
        f"{API}/uploads",
        headers=headers,
        json={"purpose": "verification", "content_type": "application/pdf", "filename": "ins.pdf"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return body["document"]["id"], body["upload"]


async def test_document_upload_through_s3(client: httpx.AsyncClient, s3_app: MotoS3) -> None:
    org = await make_org()
    headers = auth_headers(await make_user("mover_admin", org))
    document_id, form = await _ticket(client, headers)
    assert form["url"].startswith(s3_app.endpoint_url)
    assert ["content-length-range", 1, get_settings().max_upload_bytes] in _policy(form["fields"])[
        "conditions"
    ]

    assert (await _post_form(form["url"], form["fields"], PDF)).status_code == 204
    confirmed = await client.post(f"{API}/{document_id}/confirm", headers=headers)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "stored"
    link = (await client.get(f"{API}/{document_id}/download", headers=headers)).json()
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.get(link["url"])).content == PDF


@pytest.mark.parametrize(("case", "status"), [("too_big", 413), ("wrong_type", 415), ("not_a_pdf", 415)])
async def test_uploads_breaking_the_form_never_get_stored(
    client: httpx.AsyncClient, s3_app: MotoS3, case: str, status: int
) -> None:
    org = await make_org()
    headers = auth_headers(await make_user("mover_admin", org))
    document_id, form = await _ticket(client, headers)
    fields, content = dict(form["fields"]), PDF
    if case == "too_big":
        content = PDF + b"x" * get_settings().max_upload_bytes
    elif case == "wrong_type":
        fields["Content-Type"], content = "text/html", HTML
    else:
        content = HTML  # declared PDF, and the form cannot look inside

    answer = await _post_form(form["url"], fields, content)
    if case != "not_a_pdf" and 400 <= answer.status_code < 500:
        return  # the store enforced its policy, as AWS S3 does
    assert answer.status_code == 204  # moto 5.2 stores it anyway: the confirm must catch it

    refused = await client.post(f"{API}/{document_id}/confirm", headers=headers)
    assert refused.status_code == status, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    key = urlsplit("/" + fields["key"]).path.lstrip("/")
    assert await s3_app.storage().head(key) is None  # the bad object is gone
    pending = (await client.get(f"{API}/{document_id}", headers=headers)).json()
    assert pending["status"] == "pending" and pending["sha256"] is None


async def test_a_confirmed_upload_cannot_be_replaced_through_its_form(
    client: httpx.AsyncClient, s3_app: MotoS3
) -> None:
    """Regression: posting the still-valid form again after confirm replaced the checked file.
    S3 cannot refuse the form (it is signed and unexpired), so the confirmed file lives at a
    key the form does not cover."""
    org = await make_org()
    headers = auth_headers(await make_user("mover_admin", org))
    document_id, form = await _ticket(client, headers)
    assert (await _post_form(form["url"], form["fields"], PDF)).status_code == 204
    confirmed = await client.post(f"{API}/{document_id}/confirm", headers=headers)
    assert confirmed.status_code == 200, confirmed.text
    assert await s3_app.storage().head(form["fields"]["key"]) is None  # the upload key is gone

    exe = b"MZ\x90\x00" + b"\x00" * 200
    assert (await _post_form(form["url"], form["fields"], exe)).status_code == 204
    link = (await client.get(f"{API}/{document_id}/download", headers=headers)).json()
    async with httpx.AsyncClient(timeout=10) as http:
        downloaded = (await http.get(link["url"])).content
    assert downloaded == PDF
    assert hashlib.sha256(downloaded).hexdigest() == confirmed.json()["sha256"]
