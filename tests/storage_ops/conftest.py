"""Two storage locations for the storage-operations tests: a filesystem folder under ``tmp_path``
and an S3 prefix in the session's moto server (``tests/storagebackends/conftest.py``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
from botocore.config import Config

from storagebackends.paths import blob_path
from storagebackends.registry import reset_cache
from tests.factories import RepositoryFactory
from tests.live import free_port
from tests.storagebackends.conftest import MotoS3, moto_s3  # noqa: F401 - the shared moto server fixture


@dataclass
class Locations:
    """The configured locations of a test and ways to look at their bytes from outside."""

    root: Path  # the filesystem location's folder
    moto: MotoS3
    prefix: str  # the S3 location's key prefix
    configure: Callable[..., None]

    def fs_bytes(self, digest: str) -> bytes | None:
        path = self.root / blob_path(digest)
        return path.read_bytes() if path.exists() else None

    def s3_key(self, digest: str) -> str:
        return f"{self.prefix}/{blob_path(digest)}"

    def s3_bytes(self, digest: str) -> bytes | None:
        try:
            return self.moto.client().get_object(Bucket=self.moto.bucket, Key=self.s3_key(digest))["Body"].read()
        except self.moto.client().exceptions.NoSuchKey:
            return None

    def s3_put(self, digest: str, data: bytes) -> None:
        self.moto.client().put_object(Bucket=self.moto.bucket, Key=self.s3_key(digest), Body=data)


@pytest.fixture
def locations(settings, tmp_path: Path, moto_s3: MotoS3) -> Locations:  # noqa: F811
    """``local`` (filesystem) and ``s3`` (moto), local preferred; ``configure`` changes the
    preference, the storage section of ``MOORAGE`` and takes the S3 location down (a dead port)."""
    prefix = f"ops-{uuid.uuid4().hex}"
    root = tmp_path / "fs"

    def configure(
        preference: tuple[str, ...] = ("local", "s3"), *, s3_down: bool = False, s3_direct: bool = False, replicate_to_all: bool = False
    ) -> None:
        options = moto_s3.options(location=prefix)
        if s3_down:
            options["endpoint_url"] = f"http://127.0.0.1:{free_port()}"  # nothing listens there
            # Fail fast: one attempt, not botocore's retries with back-off.
            options["client_config"] = Config(connect_timeout=1, read_timeout=2, retries={"max_attempts": 1, "mode": "standard"})
        settings.MOORAGE_STORAGE_LOCATIONS = {
            "local": {"driver": "filesystem", "options": {"location": str(root)}, "direct_download": False},
            "s3": {"driver": "s3", "options": options, "direct_download": s3_direct},
        }
        settings.MOORAGE_STORAGE_PREFERENCE = list(preference)
        settings.MOORAGE = {**settings.MOORAGE, "storage": {**settings.MOORAGE["storage"], "replicate_to_all": replicate_to_all}}
        reset_cache()

    configure()
    yield Locations(root=root, moto=moto_s3, prefix=prefix, configure=configure)
    reset_cache()


@pytest.fixture
def repository(db):
    return RepositoryFactory()
