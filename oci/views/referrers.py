"""``GET /v2/<name>/referrers/<digest>``: an OCI index of the manifests whose subject is <digest>."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from common.grammar import parse_digest
from oci.responses import json_response
from oci.views.base import RegistryView, next_link, query_int
from repositories.media_types import INDEX_TYPES, OCI_INDEX
from repositories.models import Manifest, Tag
from repositories.selectors import live_tags, referrer_manifests, referrers_fallback_tag

DEFAULT_PAGE = 1000


def _descriptor(manifest: Manifest) -> dict[str, Any]:
    descriptor: dict[str, Any] = {"mediaType": manifest.media_type, "digest": manifest.digest, "size": manifest.size}
    artifact_type = manifest.artifact_type or manifest.config_media_type
    if artifact_type:
        descriptor["artifactType"] = artifact_type
    if manifest.annotations:
        descriptor["annotations"] = manifest.annotations
    return descriptor


def _fallback_descriptors(repository, digest: str) -> list[dict[str, Any]]:
    """Descriptors from the tag-schema fallback index (``sha256-<hex>``) older clients push."""
    tag = Tag.objects.filter(live_tags(), repository=repository, name=referrers_fallback_tag(digest)).select_related("manifest").first()
    if tag is None or tag.manifest.media_type not in INDEX_TYPES:
        return []
    try:
        listed = json.loads(bytes(tag.manifest.content)).get("manifests", [])
    except ValueError:
        return []
    return [d for d in listed if isinstance(d, dict) and isinstance(d.get("digest"), str)]


class ReferrersView(RegistryView):
    def get(self, request: HttpRequest, name: str, digest: str) -> HttpResponse:
        repository = self.repository_for_read(request, name)
        parse_digest(digest)
        artifact_type = request.GET.get("artifactType") or None
        n = query_int(request, "n", default=DEFAULT_PAGE, maximum=settings.MOORAGE_LIMITS["max_page_size"]) or DEFAULT_PAGE
        last = request.GET.get("last") or None

        descriptors = [_descriptor(m) for m in referrer_manifests(repository=repository, digest=digest)]
        seen = {d["digest"] for d in descriptors}
        descriptors += [d for d in _fallback_descriptors(repository, digest) if d["digest"] not in seen]
        if artifact_type:
            descriptors = [d for d in descriptors if d.get("artifactType") == artifact_type]

        if last:
            position = next((i for i, d in enumerate(descriptors) if d["digest"] == last), None)
            descriptors = descriptors[position + 1 :] if position is not None else []
        page, more = descriptors[:n], len(descriptors) > n

        headers = {}
        if artifact_type:
            headers["OCI-Filters-Applied"] = "artifactType"
        if more:
            headers["Link"] = next_link(request.path, n=n, last=page[-1]["digest"], artifactType=artifact_type)
        return json_response(
            {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": page}, content_type=OCI_INDEX, headers=headers
        )
