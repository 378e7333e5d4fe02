"""Upload rules without a database: magic bytes, declared types, sizes and display names."""

from __future__ import annotations

import pytest

from dispatch.documents import rules
from dispatch.errors import ValidationFailed

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00"


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (PDF, "application/pdf"),
        (JPEG, "image/jpeg"),
        (PNG, "image/png"),
        (HEIC, "image/heic"),
        (b"\x00\x00\x00\x18ftypmif1\x00", "image/heic"),
        (b"\x00\x00\x00\x18ftypmsf1\x00", "image/heic"),
        (b"\x00\x00\x00\x18ftypheix\x00", "image/heic"),
    ],
)
def test_sniff_recognizes_accepted_types(head: bytes, kind: str) -> None:
    assert rules.sniff(head) == kind


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"%PDF",
        b"<html><body>",
        b"MZ\x90\x00",
        b"GIF89a",
        b"\x00\x00\x00\x18ftypmp42",
        b"PK\x03\x04",
        b"\x89PNG\r\n\x1a",
    ],
)
def test_sniff_refuses_everything_else(head: bytes) -> None:
    assert rules.sniff(head) is None


def test_declared_header_cannot_override_content() -> None:
    assert rules.check_content(PNG, "image/png") == "image/png"
    assert rules.check_content(PNG, None) == "image/png"
    assert rules.check_content(PNG, "application/octet-stream") == "image/png"
    with pytest.raises(ValidationFailed):
        rules.check_content(PDF, "image/png")
    with pytest.raises(rules.UnsupportedType):
        rules.check_content(b"<script>alert(1)</script>", "application/pdf")


def test_declared_types_for_presigned_uploads() -> None:
    assert rules.check_declared_type("application/PDF; charset=binary") == "application/pdf"
    with pytest.raises(rules.UnsupportedType):
        rules.check_declared_type("text/html")


def test_size_limits() -> None:
    rules.check_size(1, 10)
    rules.check_size(10, 10)
    with pytest.raises(rules.TooLarge):
        rules.check_size(11, 10)
    with pytest.raises(ValidationFailed):
        rules.check_size(0, 10)


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd",
        "..\\..\\windows\\win.ini",
        "/etc/passwd",
        "a/b.pdf",
        "..",
        "...",
        "invoice\x00.pdf",
        "bad\nname.pdf",
        "C:\\temp\\x.pdf",
    ],
)
def test_path_like_or_control_names_are_refused(name: str) -> None:
    with pytest.raises(ValidationFailed):
        rules.display_name(name)


def test_display_names_are_sanitized_not_trusted() -> None:
    assert rules.display_name("Liability insurance 2026.pdf") == "Liability insurance 2026.pdf"
    assert rules.display_name('we"ird<name>.pdf') == "we_ird_name_.pdf"
    assert rules.display_name("") == "upload"
    long = rules.display_name("x" * 400 + ".pdf")
    assert len(long) == 255 and long.endswith(".pdf")
