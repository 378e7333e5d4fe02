"""File storage: S3 (boto3) when MOVEHUB_STORAGE_BACKEND=s3, a local directory otherwise."""

from __future__ import annotations

from persistence.config import Settings, get_settings
from persistence.storage.keys import final_key_of, is_safe_key, new_key, upload_key
from persistence.storage.local import LocalStorage, SignatureInvalid
from persistence.storage.port import (
    ObjectInfo,
    ObjectMissing,
    PresignedPost,
    StorageError,
    StoragePort,
)

__all__ = [
    "LocalStorage",
    "ObjectInfo",
    "ObjectMissing",
    "PresignedPost",
    "SignatureInvalid",
    "StorageError",
    "StoragePort",
    "final_key_of",
    "is_safe_key",
    "local_storage",
    "new_key",
    "storage_port",
    "upload_key",
]


def local_storage(settings: Settings | None = None) -> LocalStorage:
    settings = settings or get_settings()
    return LocalStorage(settings.storage_dir, settings.storage_signing_secret, settings.public_base_url)


def storage_port(settings: Settings | None = None) -> StoragePort:
    settings = settings or get_settings()
    if settings.storage_backend == "s3":
        from persistence.storage.s3 import S3Storage

        return S3Storage(
            settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
        )
    return local_storage(settings)
