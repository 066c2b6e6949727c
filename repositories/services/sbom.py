"""Attaching an SBOM to an image as an OCI referrer (an artifact manifest whose ``subject`` is the
image), so referrer-aware tools (``oras discover``, the referrers API) find it."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from accounts.principals import Principal
from repositories.media_types import EMPTY_JSON_BYTES, EMPTY_JSON_DIGEST, OCI_EMPTY_JSON, OCI_MANIFEST
from repositories.models import Manifest, Repository
from repositories.scanning.sbom import SPDX_MEDIA_TYPE
from repositories.services.manifests import manifest_put
from repositories.services.uploads import blob_store_bytes


def sbom_attach(*, repository: Repository, manifest: Manifest, document: dict[str, Any], actor: Principal | None = None) -> Manifest:
    """Store ``document`` (an SPDX JSON document) as a referrer of ``manifest``.

    The artifact is an OCI image manifest with ``artifactType`` ``application/spdx+json``, the
    empty config, one layer holding the document and ``subject`` pointing at ``manifest``.

    Raises:
        RegistryError: whatever ``manifest_put`` raises (quota, read-only, a vanished subject).
    """
    data = json.dumps(document, indent=2, sort_keys=True).encode()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    blob_store_bytes(repository=repository, data=EMPTY_JSON_BYTES, digest=EMPTY_JSON_DIGEST)
    blob_store_bytes(repository=repository, data=data, digest=digest)
    artifact = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": SPDX_MEDIA_TYPE,
        "config": {"mediaType": OCI_EMPTY_JSON, "digest": EMPTY_JSON_DIGEST, "size": len(EMPTY_JSON_BYTES), "data": "e30="},
        "layers": [{"mediaType": SPDX_MEDIA_TYPE, "digest": digest, "size": len(data),
                    "annotations": {"org.opencontainers.image.title": "sbom.spdx.json"}}],
        "subject": {"mediaType": manifest.media_type, "digest": manifest.digest, "size": manifest.size},
        "annotations": {"org.opencontainers.image.created": document.get("creationInfo", {}).get("created", ""),
                        "dev.moorage.sbom.format": "spdx-2.3"},
    }
    raw = json.dumps(artifact, separators=(",", ":")).encode()
    reference = "sha256:" + hashlib.sha256(raw).hexdigest()
    return manifest_put(repository=repository, reference=reference, raw=raw, content_type=OCI_MANIFEST, actor=actor).manifest
