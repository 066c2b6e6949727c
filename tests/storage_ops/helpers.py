"""Pushing content through the real services for the storage-operations tests."""

from __future__ import annotations

import os

from repositories.media_types import OCI_MANIFEST
from repositories.models import Blob, BlobPlacement, Repository
from repositories.services.manifests import manifest_put
from tests.factories import digest_of, image_manifest
from tests.repositories.helpers import push_blob


def push_image(repository: Repository, tag: str, *, layer_sizes: tuple[int, ...] = (3000, 70_000)) -> tuple[str, dict[str, bytes]]:
    """Push a config and random layers and a manifest tagged ``tag``; returns (manifest digest,
    {blob digest: bytes})."""
    layers = tuple(os.urandom(size) for size in layer_sizes)
    config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"n":"%s"}' % os.urandom(4).hex().encode()
    for data in (config, *layers):
        push_blob(repository=repository, data=data)
    raw = image_manifest(config=config, layers=layers)
    result = manifest_put(repository=repository, reference=tag, raw=raw, content_type=OCI_MANIFEST)
    return result.manifest.digest, {digest_of(data): data for data in (config, *layers)}


def placements_of(digest: str) -> set[str]:
    return set(BlobPlacement.objects.filter(blob__digest=digest).values_list("location", flat=True))


def blob(digest: str) -> Blob:
    return Blob.objects.get(digest=digest)
