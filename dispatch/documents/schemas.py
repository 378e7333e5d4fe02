"""Document I/O: asking for an upload form, the stored document, a download link."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from dispatch.documents.rules import DocumentPurpose

AcceptedType = Literal["application/pdf", "image/jpeg", "image/png", "image/heic"]


class UploadRequest(BaseModel):
    """Ask for a presigned POST form; the store itself will refuse another type or size."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "purpose": "verification",
                    "content_type": "application/pdf",
                    "filename": "liability-insurance-2026.pdf",
                    "size_bytes": 183004,
                }
            ]
        },
    )

    purpose: DocumentPurpose
    content_type: str = Field(min_length=1, max_length=100, examples=["application/pdf"])
    filename: str = Field(default="", max_length=1024)
    size_bytes: int | None = Field(
        default=None, gt=0, le=10**12, description="optional: refused early when over the limit"
    )


class DocumentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    org_id: uuid.UUID | None
    owner_user_id: uuid.UUID | None
    purpose: str
    content_type: str | None
    size_bytes: int | None
    sha256: str | None
    original_name: str
    status: str
    created_at: datetime
    stored_at: datetime | None


class UploadForm(BaseModel):
    url: str = Field(description="POST here as multipart/form-data")
    fields: dict[str, str] = Field(description="send these form fields first, then `file`")
    expires_at: datetime
    max_bytes: int


class UploadTicket(BaseModel):
    """The pending document and the form to upload it with; then POST .../confirm."""

    document: DocumentOut
    upload: UploadForm


class DownloadLink(BaseModel):
    url: str
    expires_at: datetime
