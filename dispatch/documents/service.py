"""Document use cases: presigned upload -> confirm, small uploads through the API, listing and
short-lived download links. Who may see a document is row-level security's answer (the org's
staff, its uploader, platform admins); another tenant's document is simply not found."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.documents import rules
from dispatch.documents.schemas import (
    DocumentOut,
    DownloadLink,
    UploadForm,
    UploadRequest,
    UploadTicket,
)
from dispatch.errors import Conflict, NotFound, Unavailable, ValidationFailed
from dispatch.kit.pagination import Page, PageParams
from persistence.config import Settings
from persistence.models import Document
from persistence.repositories.documents import DocumentRepository
from persistence.session import Caller
from persistence.storage import StorageError, StoragePort, new_key, upload_key


def _new_document(
    caller: Caller, purpose: rules.DocumentPurpose, content_type: str, original_name: str, now: datetime
) -> Document:
    owner = caller.org_id or caller.user_id
    return Document(
        org_id=caller.org_id,
        owner_user_id=caller.user_id,
        purpose=purpose.value,
        storage_key=new_key("documents", owner, content_type),
        content_type=content_type,
        original_name=original_name,
        status="pending",
        created_at=now,
    )


async def start_upload(
    session: AsyncSession,
    caller: Caller,
    request: UploadRequest,
    storage: StoragePort,
    settings: Settings,
    now: datetime | None = None,
) -> UploadTicket:
    """Use case: a pending document and a presigned POST limited to its upload key (never the
    final key the checked file will live at), its declared type and the size limit."""
    now = now or datetime.now(UTC)
    content_type = rules.check_declared_type(request.content_type)
    if request.size_bytes is not None:
        rules.check_size(request.size_bytes, settings.max_upload_bytes)
    document = _new_document(caller, request.purpose, content_type, rules.display_name(request.filename), now)
    session.add(document)
    await session.flush()
    form = storage.presigned_post(
        upload_key(document.storage_key), content_type, settings.max_upload_bytes, settings.upload_url_ttl_s
    )
    return UploadTicket(
        document=DocumentOut.model_validate(document),
        upload=UploadForm(
            url=form.url, fields=form.fields, expires_at=form.expires_at, max_bytes=settings.max_upload_bytes
        ),
    )


async def get_document(session: AsyncSession, document_id: uuid.UUID, *, lock: bool = False) -> Document:
    document = await DocumentRepository(session).get_live(document_id, lock=lock)
    if document is None:
        raise NotFound("no such document")
    return document


async def confirm_upload(
    session: AsyncSession,
    document_id: uuid.UUID,
    storage: StoragePort,
    settings: Settings,
    now: datetime | None = None,
) -> Document:
    """Use case: the client says its upload is done. We look ourselves: the object must exist,
    be within the size limit and be what its magic bytes say it is (the declared type);
    then its SHA-256 is recorded and the document is stored. A bad object is deleted, so the
    same form can be used again before it expires.

    The checked bytes are written to the document's final key, which no form covers, and the
    upload key is deleted: the form stays valid until it expires, and posting it again must not
    replace a confirmed file. Writing the bytes we hashed (not a store-side copy) also leaves no
    moment in which a second upload could slip in between the check and the copy."""
    now = now or datetime.now(UTC)
    document = await get_document(session, document_id, lock=True)
    if document.status == "stored":
        return document  # confirming twice is harmless
    staged = upload_key(document.storage_key)
    try:
        content = await _checked_upload(storage, staged, document.content_type, settings.max_upload_bytes)
        await storage.put(document.storage_key, content, document.content_type or "application/octet-stream")
        await storage.delete(staged)
    except StorageError as exc:
        raise Unavailable("file storage is unavailable; try again shortly") from exc
    document.size_bytes, document.sha256 = len(content), hashlib.sha256(content).hexdigest()
    document.status, document.stored_at = "stored", now
    await session.flush()
    return document


async def _checked_upload(storage: StoragePort, key: str, declared: str | None, max_bytes: int) -> bytes:
    """The uploaded object's bytes once size and type check out; a bad object is deleted."""
    info = await storage.head(key)
    if info is None:
        raise Conflict(
            "nothing has been uploaded for this document yet; POST the file to the upload form first"
        )
    try:
        # The store should have enforced the form's conditions; not every S3 look-alike
        # does, so size and type are checked again here before a byte is trusted.
        rules.check_size(info.size_bytes, max_bytes)
        rules.check_stored_type(info.content_type, declared)
        content = await storage.get(key)
        rules.check_size(len(content), max_bytes)
        rules.check_content(content[: rules.SNIFF_BYTES], declared)
    except (rules.TooLarge, rules.UnsupportedType, ValidationFailed):
        await storage.delete(key)
        raise
    return content


async def upload_small(
    session: AsyncSession,
    caller: Caller,
    purpose: rules.DocumentPurpose,
    filename: str | None,
    declared_type: str | None,
    content: bytes,
    storage: StoragePort,
    max_bytes: int,
    now: datetime | None = None,
) -> Document:
    """Use case: a small file through the API: checked, stored under a generated key, recorded.
    The row is written first, so a failed store rolls it back (never a row without a file)."""
    now = now or datetime.now(UTC)
    rules.check_size(len(content), max_bytes)
    content_type = rules.check_content(content[: rules.SNIFF_BYTES], declared_type)
    document = _new_document(caller, purpose, content_type, rules.display_name(filename), now)
    document.size_bytes, document.sha256 = len(content), hashlib.sha256(content).hexdigest()
    document.status, document.stored_at = "stored", now
    session.add(document)
    await session.flush()
    try:
        await storage.put(document.storage_key, content, content_type)
    except StorageError as exc:
        raise Unavailable("file storage is unavailable; try again shortly") from exc
    return document


async def list_documents(
    session: AsyncSession, purpose: str | None, status: str | None, params: PageParams
) -> Page[DocumentOut]:
    """Live documents the caller may see, newest first."""
    documents = DocumentRepository(session)
    rows, total = await documents.page(
        documents.listing(purpose=purpose, status=status), limit=params.limit, offset=params.offset
    )
    return Page.of([DocumentOut.model_validate(row) for row in rows], total, params)


async def download_link(
    session: AsyncSession,
    document_id: uuid.UUID,
    storage: StoragePort,
    ttl_s: int,
    now: datetime | None = None,
) -> DownloadLink:
    """A download URL valid for `ttl_s` seconds (a couple of minutes), for a caller who can
    see the document."""
    now = now or datetime.now(UTC)
    document = await get_document(session, document_id)
    if document.status != "stored":
        raise Conflict("the document is not stored yet; confirm its upload first")
    url = storage.presigned_get(
        document.storage_key,
        ttl_s,
        filename=document.original_name or "document",
        content_type=document.content_type or "application/octet-stream",
    )
    return DownloadLink(url=url, expires_at=now + timedelta(seconds=ttl_s))
