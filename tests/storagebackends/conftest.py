"""Every storage backend under test, built on ``tmp_path`` (or a loopback service).

To add a backend (the Azure adapter of the storage issue), add a builder to ``BACKENDS``: it
receives the test's ``request`` and ``tmp_path`` and returns a ``StorageBackend``, or calls
``pytest.skip`` when its service (Azurite) cannot run on 127.0.0.1. The whole contract suite
then runs against it.

``moto_s3`` is a real S3 API: moto's standalone server, started once per session on a free
loopback port. Each S3 test gets its own key prefix (django-storages' ``location``) in one bucket.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import boto3
import pytest
import requests
from django.core.files.storage import FileSystemStorage
from storages.backends.s3 import S3Storage

from storagebackends.base import StorageBackend
from storagebackends.django_adapter import DjangoStorageBackend
from tests.live import free_port


@dataclass(frozen=True)
class MotoS3:
    """A running moto server and the bucket created in it."""

    endpoint_url: str
    bucket: str
    process: subprocess.Popen

    def options(self, location: str = "") -> dict:
        """django-storages ``S3Storage`` options, by its own names."""
        return {
            "bucket_name": self.bucket,
            "endpoint_url": self.endpoint_url,
            "access_key": "moorage-test",
            "secret_key": "moorage-test-secret",
            "region_name": "us-east-1",
            "addressing_style": "path",
            "location": location,
        }

    def client(self):  # noqa: ANN201 - a generated boto3 class
        options = self.options()
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=options["access_key"],
            aws_secret_access_key=options["secret_key"],
            region_name=options["region_name"],
        )


def _moto_command(port: int) -> list[str]:
    binary = Path(sys.executable).with_name("moto_server")
    if binary.exists():
        return [str(binary), "-H", "127.0.0.1", "-p", str(port)]
    if shutil.which("moto_server"):
        return ["moto_server", "-H", "127.0.0.1", "-p", str(port)]
    return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]


@pytest.fixture(scope="session")
def moto_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoS3]:
    try:
        import moto.server  # noqa: F401
    except ImportError:
        pytest.skip("moto[server] not installed (pip install -r requirements-dev.txt)")
    port = free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(_moto_command(port), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            log.close()
            pytest.fail(f"moto server exited with status {process.returncode}")
        try:
            requests.get(endpoint, timeout=1)
            break
        except requests.RequestException:
            if time.monotonic() > deadline:
                process.kill()
                pytest.fail("moto server did not start in 30 s")
            time.sleep(0.1)
    server = MotoS3(endpoint_url=endpoint, bucket="moorage-test", process=process)
    server.client().create_bucket(Bucket=server.bucket)
    try:
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def filesystem_backend(request: pytest.FixtureRequest, tmp_path: Path) -> StorageBackend:
    return DjangoStorageBackend("contract-fs", FileSystemStorage(location=str(tmp_path / "fs")))


def s3_backend(request: pytest.FixtureRequest, tmp_path: Path) -> StorageBackend:
    moto: MotoS3 = request.getfixturevalue("moto_s3")
    storage = S3Storage(**moto.options(location=f"contract-{uuid.uuid4().hex}"))
    return DjangoStorageBackend("contract-s3", storage, direct_download=True)


BACKENDS: dict[str, Callable[[pytest.FixtureRequest, Path], StorageBackend]] = {
    "filesystem": filesystem_backend,
    "s3": s3_backend,
}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> StorageBackend:
    return BACKENDS[request.param](request, tmp_path)


@pytest.fixture
def s3_backend_factory(moto_s3: MotoS3) -> Callable[[], DjangoStorageBackend]:
    """Fresh adapters over one S3 prefix, as separate processes would build them."""
    location = f"s3case-{uuid.uuid4().hex}"

    def build(direct_download: bool = False) -> DjangoStorageBackend:
        return DjangoStorageBackend("s3", S3Storage(**moto_s3.options(location=location)), direct_download=direct_download)

    return build
