"""Every storage backend under test, built on ``tmp_path`` (or a loopback service).

To add a backend, add a builder to ``BACKENDS``: it receives the test's ``request`` and
``tmp_path`` and returns a ``StorageBackend``, or calls ``pytest.skip`` when its service cannot
run on 127.0.0.1. The whole contract suite then runs against it.

Object stores are real servers started once per session on free loopback ports; each test gets
its own key prefix (django-storages' ``location``) in one bucket or container:

- ``moto_s3``: S3, moto's standalone server.
- ``azurite``: Azure Blob Storage, Microsoft's Azurite (npm package ``azurite``; ``.ci/run``
  installs it). Skipped when ``azurite-blob`` is not on PATH.
- ``gcs_emulator``: Google Cloud Storage, the ``gcp-storage-emulator`` PyPI package (in memory).
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


def _start(command: list[str], url: str, log_path: Path, name: str) -> subprocess.Popen:
    """Start a loopback server and wait until ``url`` answers (any HTTP status)."""
    log = open(log_path, "wb")  # noqa: SIM115 - the child keeps writing; closed with the process
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            pytest.fail(f"{name} exited with status {process.returncode}: {log_path.read_text()[-2000:]}")
        try:
            requests.get(url, timeout=1)
            return process
        except requests.RequestException:
            if time.monotonic() > deadline:
                _stop(process)
                pytest.fail(f"{name} did not start in 60 s: {log_path.read_text()[-2000:]}")
            time.sleep(0.1)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def pytest_configure(config: pytest.Config) -> None:
    # google-api-core announces Python 3.11's end of support on import; not ours to act on.
    config.addinivalue_line("filterwarnings", "ignore:You are using a Python version:FutureWarning")


#: Azurite's well-known development account (public, documented by Microsoft).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@dataclass(frozen=True)
class Azurite:
    """A running Azurite blob service and the container created in it."""

    blob_endpoint: str
    container: str

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint={self.blob_endpoint};"
        )

    def options(self, location: str = "") -> dict:
        """django-storages ``AzureStorage`` options, by its own names."""
        return {
            "connection_string": self.connection_string,
            "azure_container": self.container,
            "location": location,
            "expiration_secs": 300,
        }

    def container_client(self):  # noqa: ANN201 - azure's ContainerClient
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.connection_string).get_container_client(self.container)


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    binary = shutil.which("azurite-blob")
    if binary is None:
        pytest.skip("azurite-blob not on PATH (npm install -g azurite; .ci/run installs it)")
    try:
        import azure.storage.blob  # noqa: F401
    except ImportError:
        pytest.skip("azure-storage-blob not installed (pip install -r requirements.txt)")
    folder = tmp_path_factory.mktemp("azurite")
    port = free_port()
    command = [binary, "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", str(folder / "data"),
               "--skipApiVersionCheck", "--loose", "--disableTelemetry"]
    endpoint = f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"
    process = _start(command, endpoint, folder / "azurite.log", "azurite")
    server = Azurite(blob_endpoint=endpoint, container="moorage-test")
    server.container_client().create_container()
    try:
        yield server
    finally:
        _stop(process)


@dataclass(frozen=True)
class GCSEmulator:
    """A running gcp-storage-emulator and the bucket created in it."""

    endpoint: str
    bucket: str

    def options(self, location: str = "") -> dict:
        """django-storages ``GoogleCloudStorage`` options plus Moorage's ``api_endpoint``."""
        return {"bucket_name": self.bucket, "project_id": "moorage-test", "api_endpoint": self.endpoint, "location": location}

    def client(self):  # noqa: ANN201 - google's Client
        from google.auth.credentials import AnonymousCredentials
        from google.cloud.storage import Client

        return Client(project="moorage-test", credentials=AnonymousCredentials(), client_options={"api_endpoint": self.endpoint})


@pytest.fixture(scope="session")
def gcs_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GCSEmulator]:
    try:
        import gcp_storage_emulator  # noqa: F401
        import google.cloud.storage  # noqa: F401
    except ImportError:
        pytest.skip("gcp-storage-emulator or google-cloud-storage not installed (pip install -r requirements-dev.txt)")
    folder = tmp_path_factory.mktemp("gcs")
    port = free_port()
    binary = Path(sys.executable).with_name("gcp-storage-emulator")
    command = [str(binary)] if binary.exists() else [sys.executable, "-m", "gcp_storage_emulator"]
    command += ["start", "--host", "127.0.0.1", "--port", str(port), "--in-memory", "--default-bucket", "moorage-test"]
    endpoint = f"http://127.0.0.1:{port}"
    process = _start(command, f"{endpoint}/storage/v1/b", folder / "gcs.log", "gcp-storage-emulator")
    try:
        yield GCSEmulator(endpoint=endpoint, bucket="moorage-test")
    finally:
        _stop(process)


def filesystem_backend(request: pytest.FixtureRequest, tmp_path: Path) -> StorageBackend:
    return DjangoStorageBackend("contract-fs", FileSystemStorage(location=str(tmp_path / "fs")))


def s3_backend(request: pytest.FixtureRequest, tmp_path: Path) -> StorageBackend:
    moto: MotoS3 = request.getfixturevalue("moto_s3")
    storage = S3Storage(**moto.options(location=f"contract-{uuid.uuid4().hex}"))
    return DjangoStorageBackend("contract-s3", storage, direct_download=True)


def azure_backend(request: pytest.FixtureRequest, tmp_path: Path) -> StorageBackend:
    from storagebackends.azure import AzureStorage

    server: Azurite = request.getfixturevalue("azurite")
    storage = AzureStorage(**server.options(location=f"contract-{uuid.uuid4().hex}"))
    return DjangoStorageBackend("contract-azure", storage, direct_download=True)


def gcs_backend(request: pytest.FixtureRequest, tmp_path: Path) -> StorageBackend:
    from storagebackends.gcs import GoogleCloudStorage

    server: GCSEmulator = request.getfixturevalue("gcs_emulator")
    storage = GoogleCloudStorage(**server.options(location=f"contract-{uuid.uuid4().hex}"))
    return DjangoStorageBackend("contract-gcs", storage)


BACKENDS: dict[str, Callable[[pytest.FixtureRequest, Path], StorageBackend]] = {
    "filesystem": filesystem_backend,
    "s3": s3_backend,
    "azure": azure_backend,
    "gcs": gcs_backend,
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


@pytest.fixture
def azure_backend_factory(azurite: Azurite) -> Callable[[], DjangoStorageBackend]:
    """Fresh adapters over one Azure prefix, as separate processes would build them."""
    from storagebackends.azure import AzureStorage

    location = f"azcase-{uuid.uuid4().hex}"

    def build(direct_download: bool = False, **options) -> DjangoStorageBackend:  # noqa: ANN003
        storage = AzureStorage(**{**azurite.options(location=location), **options})
        return DjangoStorageBackend("azure", storage, direct_download=direct_download)

    return build


@pytest.fixture
def gcs_backend_factory(gcs_emulator: GCSEmulator) -> Callable[[], DjangoStorageBackend]:
    """Fresh adapters over one GCS prefix, as separate processes would build them."""
    from storagebackends.gcs import GoogleCloudStorage

    location = f"gcscase-{uuid.uuid4().hex}"

    def build(direct_download: bool = False, **options) -> DjangoStorageBackend:  # noqa: ANN003
        storage = GoogleCloudStorage(**{**gcs_emulator.options(location=location), **options})
        return DjangoStorageBackend("gcs", storage, direct_download=direct_download)

    return build
