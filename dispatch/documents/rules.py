"""Upload rules as pure functions: what a file really is (magic bytes), how big it may be,
and what of the client's filename may be kept for display."""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum
from typing import Final

from dispatch.errors import TooLarge, UnsupportedType, ValidationFailed

__all__ = ["TooLarge", "UnsupportedType"]  # raised by these rules; defined with the others


class DocumentPurpose(StrEnum):
    """Why a file is kept; clients may upload every purpose but the generated ones."""

    VERIFICATION = "verification"
    BOOKING_PHOTO = "booking_photo"
    SUPPORT_ATTACHMENT = "support_attachment"
    OTHER = "other"


PDF, JPEG, PNG, HEIC = "application/pdf", "image/jpeg", "image/png", "image/heic"
ALLOWED_TYPES: Final = (PDF, JPEG, PNG, HEIC)
HEIC_BRANDS: Final = frozenset({b"heic", b"heix", b"mif1", b"msf1"})
SNIFF_BYTES: Final = 16  # enough for every signature below
MAX_NAME_LENGTH: Final = 255
_UNSAFE_NAME_CHARS = re.compile(r"[^\w .()+-]", re.UNICODE)


def sniff(head: bytes) -> str | None:
    """The content type the first bytes prove, or None for anything we do not accept."""
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if len(head) >= 12 and head[4:8] == b"ftyp" and head[8:12] in HEIC_BRANDS:
        return HEIC
    return None


def check_declared_type(declared: str) -> str:
    """A content type a client may announce for a presigned upload (parameters dropped)."""
    base = declared.split(";", 1)[0].strip().lower()
    if base not in ALLOWED_TYPES:
        raise UnsupportedType(
            f"content type {base or '(none)'} is not accepted; use one of {', '.join(ALLOWED_TYPES)}",
            allowed=list(ALLOWED_TYPES),
        )
    return base


def check_content(head: bytes, declared: str | None) -> str:
    """The file's real type from its magic bytes. A declared type (the client's header) that
    says otherwise is a spoof and refused; `application/octet-stream` or none declares nothing."""
    actual = sniff(head)
    if actual is None:
        raise UnsupportedType(
            "the file is not a PDF, JPEG, PNG or HEIC image (checked by its content, not its name or header)",
            allowed=list(ALLOWED_TYPES),
        )
    claimed = (declared or "").split(";", 1)[0].strip().lower()
    if claimed and claimed != "application/octet-stream" and claimed != actual:
        raise ValidationFailed(
            f"the file is {actual} but was sent as {claimed}", field="file", detected=actual
        )
    return actual


def check_stored_type(stored: str | None, declared: str | None) -> None:
    """The Content-Type an uploaded object was stored with must be the one its form allowed."""
    if stored is not None and declared is not None and stored.split(";", 1)[0].strip().lower() != declared:
        raise UnsupportedType(f"the object was uploaded as {stored}, not {declared}", allowed=[declared])


def check_size(size_bytes: int, max_bytes: int) -> None:
    if size_bytes <= 0:
        raise ValidationFailed("the file is empty", field="file")
    if size_bytes > max_bytes:
        raise TooLarge(
            f"the file has {size_bytes} bytes; at most {max_bytes} are accepted", max_bytes=max_bytes
        )


def display_name(filename: str | None) -> str:
    """The client's filename kept for display only (never for a path or key).

    A name carrying a path (`../../etc/passwd`, `C:\\x`), control characters or nothing but
    dots is refused outright: the client is confused or probing. Otherwise odd characters
    become `_` and the name is cut to 255 characters, keeping its extension.
    """
    name = unicodedata.normalize("NFC", filename or "").strip()
    if not name:
        return "upload"
    if (
        "/" in name
        or "\\" in name
        or ".." in name
        or name.strip(".") == ""
        or any(unicodedata.category(char).startswith("C") for char in name)
    ):
        raise ValidationFailed("the filename must be a plain file name, without a path", field="filename")
    name = _UNSAFE_NAME_CHARS.sub("_", name)
    if len(name) > MAX_NAME_LENGTH:
        stem, dot, extension = name.rpartition(".")
        extension = extension[:16] if dot else ""
        name = (stem if dot else name)[: MAX_NAME_LENGTH - len(extension) - 1] + (
            f".{extension}" if extension else ""
        )
    return name[:MAX_NAME_LENGTH]
