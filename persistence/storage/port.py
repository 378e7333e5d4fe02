"""The storage port: what MoveHub asks of an object store, and the store's answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class StorageError(Exception):
    """The store did not answer usably (timeout, 5xx, refused credentials): try again later."""


class ObjectMissing(StorageError):
    """No object under that key (a presigned upload that never happened, or a deleted one)."""


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    size_bytes: int
    content_type: str | None


@dataclass(frozen=True, slots=True)
class PresignedPost:
    """A browser form: POST `fields` plus the file (last) as multipart/form-data to `url`."""

    url: str
    fields: dict[str, str]
    expires_at: datetime


class StoragePort(Protocol):
    name: str

    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes: ...

    async def head(self, key: str) -> ObjectInfo | None: ...

    async def delete(self, key: str) -> None: ...

    def presigned_post(self, key: str, content_type: str, max_bytes: int, expires_s: int) -> PresignedPost:
        """An upload form the store itself enforces: this key only, exactly this
        Content-Type, a body of 1..max_bytes bytes, until it expires."""
        ...

    def presigned_get(self, key: str, expires_s: int, *, filename: str, content_type: str) -> str:
        """A short-lived download URL for one object."""
        ...
