"""Document uploads over HTTP with the local storage backend (the default): small uploads through
the API, the presigned POST -> confirm flow through the gateway's signed local URLs, content
checked by magic bytes, size limits, hostile filenames, and tenants kept apart."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import func, select

from persistence.config import get_settings
from persistence.models import Document, User
from persistence.session import SYSTEM, tenant_session
from persistence.storage import local_storage
from tests.factories import auth_headers, make_org, make_user

API = "/api/v1/documents"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x01" * 64
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64
HTML = b"<!doctype html><script>alert(document.cookie)</script>"


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers[
        "content-type"
    ]
    body: dict[str, Any] = response.json()
    return body


def _ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def _upload(
    client: httpx.AsyncClient,
    user: User,
    content: bytes,
    *,
    filename: str = "proof.pdf",
    content_type: str = "application/pdf",
    purpose: str = "verification",
) -> httpx.Response:
    return await client.post(
        API,
        headers=auth_headers(user),
        data={"purpose": purpose},
        files={"file": (filename, content, content_type)},
    )


async def _document_count() -> int:
    async with tenant_session(SYSTEM) as session:
        return int(await session.scalar(select(func.count()).select_from(Document)) or 0)


def _local_path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


async def test_small_uploads_are_typed_by_content(client: httpx.AsyncClient) -> None:
    org = await make_org()
    staff = await make_user("mover_admin", org)
    for content, filename, declared, expected in (
        (PDF, "Liability insurance 2026.pdf", "application/pdf", "application/pdf"),
        (PNG, "licence.png", "image/png", "image/png"),
        (JPEG, "front.jpg", "application/octet-stream", "image/jpeg"),
        (HEIC, "IMG_0001.HEIC", "image/heic", "image/heic"),
    ):
        document = _ok(await _upload(client, staff, content, filename=filename, content_type=declared), 201)
        assert document["status"] == "stored" and document["content_type"] == expected
        assert document["sha256"] == hashlib.sha256(content).hexdigest()
        assert document["size_bytes"] == len(content) and document["original_name"] == filename
        assert document["org_id"] == str(org.id)
        async with tenant_session(SYSTEM) as session:
            row = await session.get_one(Document, uuid.UUID(document["id"]))
        assert filename.split(".")[0].lower() not in row.storage_key  # generated, never theirs
        assert row.storage_key.startswith(f"documents/{org.id.hex}/")

        link = _ok(await client.get(f"{API}/{document['id']}/download", headers=auth_headers(staff)))
        assert datetime.fromisoformat(link["expires_at"]) <= datetime.now(UTC) + timedelta(
            seconds=get_settings().download_url_ttl_s + 1
        )
        downloaded = await client.get(_local_path(link["url"]))
        assert downloaded.status_code == 200 and downloaded.content == content
        assert downloaded.headers["content-type"].startswith(expected)
        assert "attachment" in downloaded.headers["content-disposition"]


async def test_spoofed_oversized_and_path_like_uploads_are_refused(client: httpx.AsyncClient) -> None:
    org = await make_org()
    staff = await make_user("mover_admin", org)
    before = await _document_count()
    limit = get_settings().direct_upload_max_bytes

    # Spoofed types: the header says image, the bytes say otherwise.
    body = _problem(await _upload(client, staff, HTML, filename="cat.png", content_type="image/png"), 415)
    assert "PDF, JPEG, PNG or HEIC" in body["detail"]
    body = _problem(await _upload(client, staff, PDF, filename="cat.png", content_type="image/png"), 422)
    assert body["detected"] == "application/pdf"
    _problem(await _upload(client, staff, b"MZ\x90\x00" + b"\x00" * 100, filename="a.pdf"), 415)
    # Oversize: just over the limit (read and refused) and far over it (refused unread).
    _problem(await _upload(client, staff, PDF + b"x" * limit), 413)
    _problem(await _upload(client, staff, PDF + b"x" * (limit + 200_000)), 413)
    # Path-like names, whatever the content (control characters: see the unit tests; the
    # HTTP client percent-encodes them in a multipart filename).
    for name in ("../../etc/passwd", "..\\..\\boot.ini", "/etc/passwd", "a/b.pdf", ".."):
        body = _problem(await _upload(client, staff, PDF, filename=name), 422)
        assert "without a path" in body["detail"], name
    # Malformed forms.
    _problem(
        await client.post(
            API,
            headers=auth_headers(staff),
            data={"purpose": "verification"},
            files={"other": ("a.pdf", PDF, "application/pdf")},
        ),
        422,
    )
    _problem(await _upload(client, staff, PDF, purpose="invoice_pdf"), 422)
    _problem(await _upload(client, staff, b""), 422)
    _problem(
        await client.post(
            API,
            headers={**auth_headers(staff), "content-type": "application/json"},
            content=b'{"purpose": "verification"}',
        ),
        422,
    )
    _problem(await client.post(API, files={"file": ("a.pdf", PDF, "application/pdf")}), 401)

    assert await _document_count() == before


async def test_presigned_post_then_confirm(client: httpx.AsyncClient) -> None:
    org = await make_org()
    staff = await make_user("dispatcher", org)
    headers = auth_headers(staff)
    ticket = _ok(
        await client.post(
            f"{API}/uploads",
            headers=headers,
            json={
                "purpose": "verification",
                "content_type": "application/pdf",
                "filename": "insurance.pdf",
                "size_bytes": len(PDF),
            },
        ),
        201,
    )
    document, form = ticket["document"], ticket["upload"]
    assert document["status"] == "pending" and form["max_bytes"] == get_settings().max_upload_bytes
    assert form["fields"]["Content-Type"] == "application/pdf"
    confirm = f"{API}/{document['id']}/confirm"
    _problem(await client.post(confirm, headers=headers), 409)  # nothing uploaded yet
    _problem(await client.get(f"{API}/{document['id']}/download", headers=headers), 409)
    upload_path = urlsplit(form["url"]).path

    async def post_form(
        fields: dict[str, str], content: bytes, file_type: str = "application/pdf"
    ) -> httpx.Response:
        return await client.post(
            upload_path, data=fields, files={"file": ("insurance.pdf", content, file_type)}
        )

    # The signed form's conditions hold: exact Content-Type, this key, its signature.
    _problem(await post_form({**form["fields"], "Content-Type": "text/html"}, HTML), 403)
    _problem(await post_form({**form["fields"], "key": "documents/other/x.pdf"}, PDF), 403)
    _problem(await post_form({**form["fields"], "signature": "forged"}, PDF), 403)
    # Bytes that are not a PDF pass the form (it cannot see inside) but not the confirm.
    assert (await post_form(form["fields"], HTML)).status_code == 204
    _problem(await client.post(confirm, headers=headers), 415)
    assert (await client.get(f"{API}/{document['id']}", headers=headers)).json()["status"] == "pending"
    # The same form works again for the real file.
    assert (await post_form(form["fields"], PDF)).status_code == 204
    stored = _ok(await client.post(confirm, headers=headers))
    assert stored["status"] == "stored" and stored["size_bytes"] == len(PDF)
    assert stored["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert _ok(await client.post(confirm, headers=headers))["sha256"] == stored["sha256"]
    link = _ok(await client.get(f"{API}/{document['id']}/download", headers=headers))
    assert (await client.get(_local_path(link["url"]))).content == PDF


async def test_local_signed_urls_enforce_size_and_expiry(client: httpx.AsyncClient) -> None:
    storage = local_storage()
    key = f"documents/test/{uuid.uuid4().hex}.pdf"
    small = storage.presigned_post(key, "application/pdf", 64, 60)
    path = urlsplit(small.url).path
    too_big = await client.post(
        path, data=small.fields, files={"file": ("a.pdf", PDF + b"x" * 64, "application/pdf")}
    )
    _problem(too_big, 413)
    expired = storage.presigned_post(key, "application/pdf", 1024, -1)
    _problem(
        await client.post(path, data=expired.fields, files={"file": ("a.pdf", PDF, "application/pdf")}), 403
    )
    assert await storage.head(key) is None
    ok = storage.presigned_post(key, "application/pdf", 1024, 60)
    assert (
        await client.post(path, data=ok.fields, files={"file": ("a.pdf", PDF, "application/pdf")})
    ).status_code == 204

    link = storage.presigned_get(key, 60, filename="a.pdf", content_type="application/pdf")
    assert (await client.get(_local_path(link))).content == PDF
    query = {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}
    for tampered in (
        {**query, "expires": str(int(query["expires"]) + 3600)},
        {**query, "key": "documents/test/other.pdf"},
        {**query, "type": "text/html"},
    ):
        _problem(await client.get("/storage/download", params=tampered), 403)
    stale = storage.presigned_get(key, -1, filename="a.pdf", content_type="application/pdf")
    _problem(await client.get(_local_path(stale)), 403)
    _problem(await client.get("/storage/download", params={**query, "key": "../../etc/passwd"}), 403)


async def test_upload_requests_are_checked_up_front(client: httpx.AsyncClient) -> None:
    user = await make_user("customer")
    headers = auth_headers(user)
    before = await _document_count()
    for payload, status in (
        ({"purpose": "verification", "content_type": "text/html"}, 415),
        (
            {
                "purpose": "verification",
                "content_type": "application/pdf",
                "size_bytes": get_settings().max_upload_bytes + 1,
            },
            413,
        ),
        ({"purpose": "verification", "content_type": "application/pdf", "filename": "../../etc/passwd"}, 422),
        ({"purpose": "invoice_pdf", "content_type": "application/pdf"}, 422),
        ({"purpose": "verification"}, 422),
    ):
        _problem(await client.post(f"{API}/uploads", headers=headers, json=payload), status)
    assert await _document_count() == before


async def test_tenants_never_see_each_others_documents(client: httpx.AsyncClient) -> None:
    org_a, org_b = await make_org(), await make_org()
    staff_a, staff_b = await make_user("mover_admin", org_a), await make_user("mover_admin", org_b)
    customer, other_customer = await make_user("customer"), await make_user("customer")
    admin = await make_user("platform_admin")
    org_doc = _ok(await _upload(client, staff_a, PDF), 201)
    own_doc = _ok(
        await _upload(
            client,
            customer,
            PNG,
            filename="damage.png",
            content_type="image/png",
            purpose="support_attachment",
        ),
        201,
    )
    pending = _ok(
        await client.post(
            f"{API}/uploads",
            headers=auth_headers(staff_a),
            json={"purpose": "verification", "content_type": "application/pdf"},
        ),
        201,
    )["document"]

    for outsider, document in (
        (staff_b, org_doc),
        (customer, org_doc),
        (other_customer, own_doc),
        (staff_a, own_doc),
        (staff_b, pending),
    ):
        headers = auth_headers(outsider)
        for path in ("", "/download"):
            _problem(await client.get(f"{API}/{document['id']}{path}", headers=headers), 404)
        _problem(await client.post(f"{API}/{document['id']}/confirm", headers=headers), 404)
        listed = _ok(await client.get(API, headers=headers))
        assert document["id"] not in {item["id"] for item in listed["items"]}

    for insider, document in ((staff_a, org_doc), (customer, own_doc), (admin, org_doc), (admin, own_doc)):
        headers = auth_headers(insider)
        assert _ok(await client.get(f"{API}/{document['id']}", headers=headers))["id"] == document["id"]
        _ok(await client.get(f"{API}/{document['id']}/download", headers=headers))
    listed = _ok(await client.get(API, headers=auth_headers(staff_a), params={"status": "stored"}))
    assert {item["id"] for item in listed["items"]} >= {org_doc["id"]}
    assert pending["id"] not in {item["id"] for item in listed["items"]}


async def test_a_confirmed_upload_cannot_be_replaced_through_its_form(client: httpx.AsyncClient) -> None:
    """Regression: the still-valid form, posted again after confirm, replaced the checked file
    (an EXE served as image/png, its SHA-256 no longer matching)."""
    org = await make_org()
    headers = auth_headers(await make_user("mover_admin", org))
    ticket = _ok(
        await client.post(
            f"{API}/uploads",
            headers=headers,
            json={"purpose": "booking_photo", "content_type": "image/png", "filename": "sofa.png"},
        ),
        201,
    )
    document, form = ticket["document"], ticket["upload"]
    upload_path = urlsplit(form["url"]).path
    assert (
        await client.post(upload_path, data=form["fields"], files={"file": ("sofa.png", PNG, "image/png")})
    ).status_code == 204
    stored = _ok(await client.post(f"{API}/{document['id']}/confirm", headers=headers))

    exe = b"MZ\x90\x00" + b"\x00" * 200
    again = await client.post(
        upload_path, data=form["fields"], files={"file": ("sofa.png", exe, "image/png")}
    )
    _problem(again, 409)
    link = _ok(await client.get(f"{API}/{document['id']}/download", headers=headers))
    downloaded = (await client.get(_local_path(link["url"]))).content
    assert downloaded == PNG
    assert hashlib.sha256(downloaded).hexdigest() == stored["sha256"]
    async with tenant_session(SYSTEM) as session:
        row = await session.get_one(Document, uuid.UUID(document["id"]))
    assert form["fields"]["key"] != row.storage_key  # the form never covered the final key


async def test_a_deleted_document_is_gone_for_everyone(client: httpx.AsyncClient) -> None:
    org = await make_org()
    staff, admin = await make_user("mover_admin", org), await make_user("platform_admin")
    kept = _ok(await _upload(client, staff, PDF), 201)
    gone = _ok(await _upload(client, staff, PNG, filename="old.png", content_type="image/png"), 201)
    async with tenant_session(SYSTEM) as session:
        (await session.get_one(Document, uuid.UUID(gone["id"]))).status = "deleted"

    for user in (staff, admin):
        headers = auth_headers(user)
        for path in ("", "/download"):
            _problem(await client.get(f"{API}/{gone['id']}{path}", headers=headers), 404)
        _problem(await client.post(f"{API}/{gone['id']}/confirm", headers=headers), 404)
        listed = _ok(await client.get(API, headers=headers, params={"limit": 200}))
        assert gone["id"] not in {item["id"] for item in listed["items"]}
    staff_list = _ok(await client.get(API, headers=auth_headers(staff)))
    assert [item["id"] for item in staff_list["items"]] == [kept["id"]]
    assert staff_list["total"] == 1
