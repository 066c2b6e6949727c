"""Two filesystem storage locations under ``tmp_path`` and a small registry pushed through the real
services: an image (config + two layers), a second image, and an index over both."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from repositories.media_types import OCI_INDEX, OCI_MANIFEST
from repositories.models import Repository
from repositories.services.manifests import manifest_put
from repositories.services.storage import blobs_replicate_missing
from storagebackends.paths import blob_path
from storagebackends.registry import reset_cache
from tests.factories import RepositoryFactory, digest_of, image_manifest, index_manifest
from tests.repositories.helpers import push_blob


@dataclass
class Pushed:
    repository: Repository
    roots: dict[str, Path]  # location name -> folder
    blobs: dict[str, bytes]  # digest -> bytes (configs and layers)
    images: list[str]  # image manifest digests
    index: str  # index digest

    def path(self, digest: str, location: str = "one") -> Path:
        return self.roots[location] / blob_path(digest)

    def layer(self, n: int = 0) -> str:
        """The digest of the ``n``-th largest blob (a layer)."""
        return sorted(self.blobs, key=lambda d: -len(self.blobs[d]))[n]


@pytest.fixture
def two_locations(settings, tmp_path: Path) -> dict[str, Path]:
    roots = {"one": tmp_path / "one", "two": tmp_path / "two"}
    settings.MOORAGE_STORAGE_LOCATIONS = {
        name: {"driver": "filesystem", "options": {"location": str(root)}, "direct_download": False} for name, root in roots.items()
    }
    settings.MOORAGE_STORAGE_PREFERENCE = ["one", "two"]
    reset_cache()
    yield roots
    reset_cache()


def push_image(repository: Repository, tag: str, sizes: tuple[int, ...] = (40_000, 3000)) -> tuple[bytes, dict[str, bytes]]:
    config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"n":"%s"}' % os.urandom(4).hex().encode()
    layers = [os.urandom(size) for size in sizes]
    for data in (config, *layers):
        push_blob(repository=repository, data=data)
    raw = image_manifest(config=config, layers=layers)
    manifest_put(repository=repository, reference=tag, raw=raw, content_type=OCI_MANIFEST)
    return raw, {digest_of(data): data for data in (config, *layers)}


@pytest.fixture
def pushed(db, two_locations) -> Pushed:
    repository = RepositoryFactory()
    first, blobs = push_image(repository, "v1")
    second, more = push_image(repository, "v2", sizes=(5000,))
    index = index_manifest(first, second)
    manifest_put(repository=repository, reference="multi", raw=index, content_type=OCI_INDEX)
    return Pushed(repository, two_locations, {**blobs, **more}, [digest_of(first), digest_of(second)], digest_of(index))


@pytest.fixture
def replicated(pushed: Pushed) -> Pushed:
    """``pushed`` with every blob copied to the second location too."""
    report = blobs_replicate_missing()
    assert not report.failures and report.copied == len(pushed.blobs)
    return pushed
