"""S3 through boto3 (any S3-compatible endpoint: AWS, MinIO, moto's server in tests).

boto3 is blocking, so every network call runs in a worker thread; presigning is local
computation and stays on the loop.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from persistence.storage.port import ObjectInfo, ObjectMissing, PresignedPost, StorageError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


def _missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code", "")) in MISSING_CODES


class S3Storage:
    name = "s3"

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str = "",
        region: str = "us-east-1",
        access_key_id: str = "",
        secret_access_key: str = "",
        timeout_s: float = 10.0,
    ) -> None:
        self.bucket = bucket
        config = Config(
            signature_version="s3v4",
            connect_timeout=timeout_s,
            read_timeout=timeout_s,
            retries={"max_attempts": 3, "mode": "standard"},
            # A custom endpoint (MinIO, moto) has no per-bucket DNS names: address by path.
            s3={"addressing_style": "path" if endpoint_url else "auto"},
        )
        credentials: dict[str, Any] = {}
        if access_key_id:  # otherwise boto3's own chain (environment, profile, instance role)
            credentials = {"aws_access_key_id": access_key_id, "aws_secret_access_key": secret_access_key}
        self.client: S3Client = boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url or None, region_name=region, config=config, **credentials
        )

    async def _call(self, method: str, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(getattr(self.client, method), **kwargs)
        except ClientError as exc:
            if _missing(exc):
                raise ObjectMissing(str(kwargs.get("Key", ""))) from exc
            raise StorageError(f"S3 {method} failed: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"S3 {method} failed: {exc}") from exc

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await self._call("put_object", Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    async def get(self, key: str) -> bytes:
        answer = await self._call("get_object", Bucket=self.bucket, Key=key)
        body = answer["Body"]
        try:
            return await asyncio.to_thread(body.read)
        finally:
            body.close()

    async def head(self, key: str) -> ObjectInfo | None:
        try:
            answer = await self._call("head_object", Bucket=self.bucket, Key=key)
        except ObjectMissing:
            return None
        return ObjectInfo(int(answer["ContentLength"]), answer.get("ContentType"))

    async def delete(self, key: str) -> None:
        await self._call("delete_object", Bucket=self.bucket, Key=key)

    def presigned_post(self, key: str, content_type: str, max_bytes: int, expires_s: int) -> PresignedPost:
        form = self.client.generate_presigned_post(
            Bucket=self.bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
            ExpiresIn=expires_s,
        )
        return PresignedPost(
            form["url"],
            {k: str(v) for k, v in form["fields"].items()},
            datetime.now(UTC) + timedelta(seconds=expires_s),
        )

    def presigned_get(self, key: str, expires_s: int, *, filename: str, content_type: str) -> str:
        return self.client.generate_presigned_url(
            "get_object",
            ExpiresIn=expires_s,
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ResponseContentType": content_type,
                "ResponseContentDisposition": f'attachment; filename="{filename}"',
            },
        )
