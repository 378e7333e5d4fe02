"""Routes: the local storage backend's signed URLs (upload form and download), at the root like
an object store's own endpoint, plus the upload helpers the API routes share.

With MOVEHUB_STORAGE_BACKEND=s3 the signed URLs point at S3 and these routes answer 404.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import Response
from starlette.datastructures import FormData, UploadFile

from dispatch.errors import Conflict, DomainError, Forbidden, NotFound, TooLarge, ValidationFailed
from gateway.deps import SettingsDep, StorageDep
from persistence.storage import (
    LocalStorage,
    ObjectMissing,
    SignatureInvalid,
    StorageError,
    StoragePort,
    final_key_of,
)

router = APIRouter(tags=["storage"], include_in_schema=False)
FORM_OVERHEAD_BYTES = 64 * 1024  # multipart boundaries and the small fields around the file


class LengthRequired(DomainError):
    status = 411
    title = "Length required"


def refuse_oversized_body(request: Request, max_bytes: int) -> None:
    """Refuse before reading: the body must announce its length, within the file limit plus
    room for the form around it (the server stops reading at that length)."""
    header = request.headers.get("content-length")
    if header is None:
        raise LengthRequired("send Content-Length with the upload")
    try:
        length = int(header)
    except ValueError as exc:
        raise ValidationFailed("Content-Length is not a number") from exc
    if length > max_bytes + FORM_OVERHEAD_BYTES:
        raise TooLarge(
            f"the upload has {length} bytes; files of at most {max_bytes} bytes are accepted",
            max_bytes=max_bytes,
        )


async def parse_upload_form(request: Request, max_bytes: int) -> tuple[FormData, UploadFile]:
    """A multipart form with exactly one file field named `file` and a few small fields."""
    refuse_oversized_body(request, max_bytes)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ValidationFailed("send the upload as multipart/form-data", field="file")
    try:
        form = await request.form(max_files=1, max_fields=16, max_part_size=64 * 1024)
    except Exception as exc:  # the parser's errors are the client's malformed body
        raise ValidationFailed(f"malformed multipart body: {exc}", field="file") from exc
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise ValidationFailed("the form needs a `file` part", field="file")
    return form, upload


async def read_capped(upload: UploadFile, max_bytes: int) -> bytes:
    """The file's bytes, refusing (413) as soon as there are more than `max_bytes`."""
    content = await upload.read(max_bytes + 1)
    if len(content) > max_bytes:
        raise TooLarge(f"the file is larger than {max_bytes} bytes", max_bytes=max_bytes)
    return content


def _local(port: StoragePort) -> LocalStorage:
    if not isinstance(port, LocalStorage):
        raise NotFound("signed local URLs are served only by the local storage backend")
    return port


@router.post("/storage/upload", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def signed_upload(request: Request, storage: StorageDep, settings: SettingsDep) -> Response:
    """The local twin of S3's presigned POST: the policy's key, Content-Type, size range and
    expiry are enforced here, before anything is written."""
    local = _local(storage)
    max_body = settings.max_upload_bytes
    form, upload = await parse_upload_form(request, max_body)
    fields = {name: value for name, value in form.items() if isinstance(value, str)}
    try:
        policy = local.verify_post(fields)
    except SignatureInvalid as exc:
        raise Forbidden(str(exc)) from exc
    final = final_key_of(policy.key)
    if final is not None and await local.head(final) is not None:
        # The confirm step already moved the checked file to its final key: the form is
        # spent (the final key is out of its reach anyway; this just says so).
        raise Conflict("this upload has been confirmed; ask for a new upload form")
    content = await read_capped(upload, policy.max_bytes)
    if len(content) < policy.min_bytes:
        raise ValidationFailed(f"the file must have at least {policy.min_bytes} bytes", field="file")
    await local.put(policy.key, content, policy.content_type)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _disposition(name: str) -> str:
    fallback = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"


@router.get("/storage/download", response_class=Response)
async def signed_download(
    storage: StorageDep,
    key: Annotated[str, Query(max_length=512)],
    name: Annotated[str, Query(max_length=255)],
    type: Annotated[str, Query(max_length=100)],
    expires: Annotated[int, Query()],
    signature: Annotated[str, Query(max_length=128)],
) -> Response:
    """The local twin of S3's presigned GET."""
    local = _local(storage)
    try:
        local.verify_get(key, name, type, expires, signature)
        content = await local.get(key)
    except SignatureInvalid as exc:
        raise Forbidden(str(exc)) from exc
    except ObjectMissing as exc:
        raise NotFound("no such object") from exc
    except StorageError as exc:
        raise NotFound("no such object") from exc
    return Response(
        content,
        media_type=type,
        headers={
            "Content-Disposition": _disposition(name),
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
