"""Routes: document uploads (presigned direct upload + confirm, or small files through the API),
listing, and short-lived download links."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, status

from dispatch.documents import rules, service
from dispatch.documents.schemas import DocumentOut, DownloadLink, UploadRequest, UploadTicket
from dispatch.errors import ValidationFailed
from dispatch.kit.pagination import Page, PageParams
from gateway.deps import CurrentCaller, SessionDep, SettingsDep, StorageDep
from gateway.routes.storage import parse_upload_form, read_capped

router = APIRouter(tags=["documents"])
Paging = Annotated[PageParams, Query()]
# Statuses only these routes give; gateway/openapi.py makes them problem+json like the rest.
Answers = dict[int | str, dict[str, Any]]
TOO_LARGE: Answers = {413: {"description": "the file (or its announced size) is over the limit"}}
UNSUPPORTED: Answers = {415: {"description": "not a PDF, JPEG, PNG or HEIC file"}}
NOT_STORED: Answers = {409: {"description": "the upload has not been confirmed yet"}}
ListedPurpose = Literal["verification", "booking_photo", "support_attachment", "other", "invoice_pdf"]


@router.post(
    "/documents/uploads",
    response_model=UploadTicket,
    status_code=status.HTTP_201_CREATED,
    responses={**TOO_LARGE, **UNSUPPORTED},
)
async def start_upload(
    payload: UploadRequest,
    caller: CurrentCaller,
    session: SessionDep,
    storage: StorageDep,
    settings: SettingsDep,
) -> UploadTicket:
    """A pending document and a presigned POST form for it: the store refuses another
    Content-Type or a body over the limit. Upload the file, then POST .../confirm."""
    return await service.start_upload(session, caller, payload, storage, settings)


@router.post(
    "/documents/{document_id}/confirm", response_model=DocumentOut, responses={**TOO_LARGE, **UNSUPPORTED}
)
async def confirm_upload(
    document_id: uuid.UUID, _: CurrentCaller, session: SessionDep, storage: StorageDep, settings: SettingsDep
) -> DocumentOut:
    """Check the uploaded object (size, magic bytes against the declared type), record its
    SHA-256 and mark it stored. 409 while nothing has been uploaded yet."""
    document = await service.confirm_upload(session, document_id, storage, settings)
    return DocumentOut.model_validate(document)


# The form is parsed by hand, after the size check: a declared File parameter would make the
# framework spool the whole body before any check of ours could run.
UPLOAD_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "purpose"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "purpose": {"type": "string", "enum": [p.value for p in rules.DocumentPurpose]},
                    },
                }
            }
        },
    }
}


@router.post(
    "/documents",
    response_model=DocumentOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=UPLOAD_FORM,
    responses={411: {"description": "send Content-Length with the upload"}, **TOO_LARGE, **UNSUPPORTED},
)
async def upload_document(
    caller: CurrentCaller, session: SessionDep, storage: StorageDep, settings: SettingsDep, request: Request
) -> DocumentOut:
    """A small file (MOVEHUB_DIRECT_UPLOAD_MAX_BYTES) as multipart/form-data with `purpose`.
    Its type comes from its content (PDF, JPEG, PNG, HEIC); a header saying otherwise, a
    filename with a path, or a body over the limit is refused."""
    limit = settings.direct_upload_max_bytes
    form, upload = await parse_upload_form(request, limit)
    try:
        purpose = rules.DocumentPurpose(str(form.get("purpose", "")))
    except ValueError as exc:
        raise ValidationFailed(
            "purpose must be one of: " + ", ".join(p.value for p in rules.DocumentPurpose), field="purpose"
        ) from exc
    content = await read_capped(upload, limit)
    document = await service.upload_small(
        session, caller, purpose, upload.filename, upload.content_type, content, storage, limit
    )
    return DocumentOut.model_validate(document)


@router.get("/documents", response_model=Page[DocumentOut])
async def list_documents(
    _: CurrentCaller,
    session: SessionDep,
    paging: Paging,
    purpose: Annotated[ListedPurpose | None, Query()] = None,
    status: Annotated[str | None, Query(pattern="^(pending|stored)$")] = None,
) -> Page[DocumentOut]:
    """Documents the caller may see: their own uploads, their organization's, or (admins) all."""
    return await service.list_documents(session, purpose, status, paging)


@router.get("/documents/{document_id}", response_model=DocumentOut)
async def get_document(document_id: uuid.UUID, _: CurrentCaller, session: SessionDep) -> DocumentOut:
    return DocumentOut.model_validate(await service.get_document(session, document_id))


@router.get("/documents/{document_id}/download", response_model=DownloadLink, responses=NOT_STORED)
async def download_document(
    document_id: uuid.UUID, _: CurrentCaller, session: SessionDep, storage: StorageDep, settings: SettingsDep
) -> DownloadLink:
    """A presigned GET valid for MOVEHUB_DOWNLOAD_URL_TTL_S seconds."""
    return await service.download_link(session, document_id, storage, settings.download_url_ttl_s)
