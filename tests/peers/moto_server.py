"""moto's S3 server on a free local port, with a fresh bucket: a real HTTP S3 endpoint for tests."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from moto.server import ThreadedMotoServer

from persistence.storage.s3 import S3Storage

ACCESS_KEY, SECRET_KEY, REGION = "testing", "testing", "us-east-1"


@dataclass(frozen=True)
class MotoS3:
    endpoint_url: str
    bucket: str

    def storage(self) -> S3Storage:
        return S3Storage(
            self.bucket,
            endpoint_url=self.endpoint_url,
            region=REGION,
            access_key_id=ACCESS_KEY,
            secret_access_key=SECRET_KEY,
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session", name="moto_endpoint")
def moto_endpoint_fixture() -> Iterator[str]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(name="moto_s3")
def moto_s3_fixture(moto_endpoint: str) -> MotoS3:
    """A new bucket per test, so tests never see each other's objects."""
    s3 = MotoS3(moto_endpoint, f"movehub-test-{uuid.uuid4().hex[:12]}")
    s3.storage().client.create_bucket(Bucket=s3.bucket)
    return s3
