"""Local default: files under a directory, with the same signed-URL flow as S3.

Upload: a POST form to `/storage/upload` (served by the gateway) carrying the key, the exact
Content-Type, a base64 policy (key, content type, size range, expiry) and its HMAC-SHA256
signature. Download: `/storage/download?key&name&type&expires&signature`. The gateway checks
both with `verify_post` / `verify_get` before touching the directory.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from persistence.storage.keys import is_safe_key
from persistence.storage.port import ObjectInfo, ObjectMissing, PresignedPost, StorageError


class SignatureInvalid(Exception):
    """A local signed URL or form that is forged, altered, expired or violates its policy."""


@dataclass(frozen=True, slots=True)
class UploadPolicy:
    key: str
    content_type: str
    min_bytes: int
    max_bytes: int
    expires: int  # unix seconds


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LocalStorage:
    name = "local"

    def __init__(self, root: str | Path, secret: str, public_base_url: str) -> None:
        self.root = Path(root).resolve()
        self._secret = secret.encode()
        self._base_url = public_base_url.rstrip("/")

    # -- files ---------------------------------------------------------------------------
    def path_for(self, key: str) -> Path:
        if not is_safe_key(key):
            raise StorageError(f"unsafe storage key {key!r}")
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise StorageError(f"storage key {key!r} leaves the storage directory")
        return path

    def _write(self, key: str, data: bytes, content_type: str) -> None:
        path = self.path_for(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.write_bytes(data)
        temporary.replace(path)  # atomic: a reader never sees half a file
        path.with_name(f".{path.name}.type").write_text(content_type)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._write, key, data, content_type)

    async def get(self, key: str) -> bytes:
        path = self.path_for(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError as exc:
            raise ObjectMissing(key) from exc

    def _head(self, key: str) -> ObjectInfo | None:
        path = self.path_for(key)
        if not path.is_file():
            return None
        type_file = path.with_name(f".{path.name}.type")
        content_type = type_file.read_text() if type_file.is_file() else None
        return ObjectInfo(path.stat().st_size, content_type)

    async def head(self, key: str) -> ObjectInfo | None:
        return await asyncio.to_thread(self._head, key)

    def _delete(self, key: str) -> None:
        path = self.path_for(key)
        path.unlink(missing_ok=True)
        path.with_name(f".{path.name}.type").unlink(missing_ok=True)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._delete, key)

    # -- signing -------------------------------------------------------------------------
    def _sign(self, message: str) -> str:
        return _b64(hmac.new(self._secret, message.encode(), hashlib.sha256).digest())

    def presigned_post(self, key: str, content_type: str, max_bytes: int, expires_s: int) -> PresignedPost:
        self.path_for(key)  # refuse unsafe keys before handing out a form
        expires_at = datetime.now(UTC) + timedelta(seconds=expires_s)
        policy = _b64(
            json.dumps(
                {
                    "key": key,
                    "content_type": content_type,
                    "min": 1,
                    "max": max_bytes,
                    "expires": int(expires_at.timestamp()),
                },
                separators=(",", ":"),
            ).encode()
        )
        fields = {
            "key": key,
            "Content-Type": content_type,
            "policy": policy,
            "signature": self._sign(f"POST\n{policy}"),
        }
        return PresignedPost(f"{self._base_url}/storage/upload", fields, expires_at)

    def verify_post(self, fields: dict[str, str], now: datetime | None = None) -> UploadPolicy:
        """The policy of a posted form, once its signature, expiry, key and type check out;
        the caller then enforces the size range while reading the body."""
        policy_text, signature = fields.get("policy", ""), fields.get("signature", "")
        if not policy_text or not hmac.compare_digest(self._sign(f"POST\n{policy_text}"), signature):
            raise SignatureInvalid("the upload form's signature does not match its policy")
        try:
            raw: dict[str, Any] = json.loads(_unb64(policy_text))
            policy = UploadPolicy(
                str(raw["key"]),
                str(raw["content_type"]),
                int(raw["min"]),
                int(raw["max"]),
                int(raw["expires"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise SignatureInvalid("the upload policy is malformed") from exc
        if (now or datetime.now(UTC)).timestamp() > policy.expires:
            raise SignatureInvalid("the upload form has expired")
        if fields.get("key") != policy.key:
            raise SignatureInvalid("the key is not the one the policy allows")
        if fields.get("Content-Type") != policy.content_type:
            raise SignatureInvalid(f"Content-Type must be {policy.content_type} as the policy says")
        return policy

    def _get_message(self, key: str, name: str, content_type: str, expires: int) -> str:
        return f"GET\n{key}\n{name}\n{content_type}\n{expires}"

    def presigned_get(self, key: str, expires_s: int, *, filename: str, content_type: str) -> str:
        self.path_for(key)
        expires = int(datetime.now(UTC).timestamp()) + expires_s
        query = {
            "key": key,
            "name": filename,
            "type": content_type,
            "expires": str(expires),
            "signature": self._sign(self._get_message(key, filename, content_type, expires)),
        }
        return f"{self._base_url}/storage/download?{urlencode(query)}"

    def verify_get(
        self,
        key: str,
        name: str,
        content_type: str,
        expires: int,
        signature: str,
        now: datetime | None = None,
    ) -> None:
        expected = self._sign(self._get_message(key, name, content_type, expires))
        if not hmac.compare_digest(expected, signature):
            raise SignatureInvalid("the download link's signature does not match")
        if (now or datetime.now(UTC)).timestamp() > expires:
            raise SignatureInvalid("the download link has expired")
