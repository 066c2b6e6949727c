"""Content helpers of the tag, manifest and label API tests: image configs (with labels and
history) and images and indexes pushed through the real services."""

from __future__ import annotations

import json
import uuid
from typing import Any, Sequence

from repositories.media_types import DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST
from repositories.models import Manifest, Repository
from repositories.services.manifests import manifest_put
from tests.factories import descriptor, digest_of
from tests.repositories.helpers import push_blob

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def config_bytes(labels: dict[str, str] | None = None, *, layers: int = 1, docker: bool = False) -> bytes:
    document: dict[str, Any] = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2026-11-07T20:26:40.123456789Z",
        "config": {"Env": ["PATH=/usr/bin"]},
        "rootfs": {"type": "layers", "diff_ids": []},
        "history": [{"created_by": f"/bin/sh -c step {i}", "created": "2026-11-07T20:26:40Z", "author": "ci"} for i in range(layers)]
        + [{"created_by": "CMD [\"sh\"]", "empty_layer": True}],
        "nonce": uuid.uuid4().hex,
    }
    if labels is not None:
        document["config"]["Labels"] = labels
    if docker:
        document["container_config"] = {}
    return json.dumps(document).encode()


def push_image(
    repository: Repository, tag: str | None, *, labels: dict[str, str] | None = None, layers: int = 1, docker: bool = False,
    config: bytes | None = None, extra_tags: Sequence[str] = (),
) -> Manifest:
    """Push a config, ``layers`` layers and an image manifest through the real services."""
    config = config if config is not None else config_bytes(labels, layers=layers, docker=docker)
    blobs = [uuid.uuid4().bytes * (16 + i) for i in range(layers)]
    for data in (config, *blobs):
        push_blob(repository=repository, data=data)
    media_type = DOCKER_MANIFEST if docker else OCI_MANIFEST
    raw = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": descriptor(config, DOCKER_CONFIG if docker else OCI_CONFIG),
            "layers": [descriptor(b, DOCKER_LAYER if docker else OCI_LAYER) for b in blobs],
        },
        indent=2,
    ).encode()
    result = manifest_put(
        repository=repository, reference=tag or digest_of(raw), raw=raw,
        content_type=media_type, extra_tags=tuple(extra_tags),
    )
    return result.manifest


def push_index(repository: Repository, tag: str, children: Sequence[Manifest]) -> Manifest:
    raw = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {"mediaType": child.media_type, "digest": child.digest, "size": child.size, "platform": {"os": "linux", "architecture": arch}}
                for child, arch in zip(children, ["amd64", "arm64", "s390x", "ppc64le"])
            ],
        }
    ).encode()
    return manifest_put(repository=repository, reference=tag, raw=raw, content_type=OCI_INDEX).manifest


def tags_url(world: Any, suffix: str = "") -> str:
    return f"/api/v1/repository/{world.name}/tag/{suffix}"


def manifest_url(world: Any, digest: str, suffix: str = "") -> str:
    return f"/api/v1/repository/{world.name}/manifest/{digest}{suffix}"
