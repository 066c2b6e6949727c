"""``/v2/<name>/manifests/<reference>``: GET, HEAD, PUT, DELETE."""

from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from common.errors import ManifestUnknownError, PayloadTooLargeError
from oci import metrics
from oci.auth import request_info
from oci.responses import OCIResponse, empty
from oci.streams import read_limited
from oci.views.base import RegistryView
from repositories.access import Action
from repositories.media_types import INDEX_TYPES, MANIFEST_TYPES, platform_matches
from repositories.models import Manifest, Repository
from repositories.lookup_cache import manifest_lookup_cached, manifest_resolve_cached
from repositories.selectors import manifest_find
from repositories.services.manifests import manifest_delete, manifest_put
from repositories.services.pulls import manifest_pull_record
from repositories.services.proxy import proxy_manifest_pull


def _accepted_types(request: HttpRequest) -> set[str]:
    accepted = set()
    for header in request.headers.get("Accept", "").split(","):
        media_type = header.split(";")[0].strip().lower()
        if media_type:
            accepted.add(media_type)
    return accepted


def negotiate(repository: Repository, manifest: Manifest, accepted: set[str]) -> Manifest:
    """Honour ``Accept``: serve the stored manifest when acceptable (or when the client names no
    manifest type); for an index the client cannot read, serve its linux/amd64 child as
    Distribution does; otherwise MANIFEST_UNKNOWN."""
    named = accepted & MANIFEST_TYPES
    if not named or manifest.media_type in accepted or "*/*" in accepted:
        return manifest
    if manifest.media_type in INDEX_TYPES:
        for descriptor in json.loads(bytes(manifest.content)).get("manifests", []):
            if descriptor.get("mediaType") in accepted and platform_matches(descriptor.get("platform"), "linux", "amd64"):
                child = manifest_find(repository=repository, digest=descriptor["digest"])
                if child is not None:
                    return child
    raise ManifestUnknownError(
        f"manifest is {manifest.media_type}, which the client does not accept",
        detail={"mediaType": manifest.media_type, "accept": sorted(accepted)[:10]},
    )


class ManifestView(RegistryView):
    def get(self, request: HttpRequest, name: str, reference: str) -> HttpResponse:
        # Warm: the proxy-cache answer, the repository and the manifest in one cache round trip.
        lookup = manifest_lookup_cached(name=name, reference=reference)
        # A pull-through cache organization answers from its cache or its upstream (None: not one).
        cached = None if lookup.not_a_proxy else proxy_manifest_pull(
            name=name, reference=reference, authorize=lambda repo: self.authorize(request, Action.PULL, repo, name)
        )
        repository = cached[0] if cached else self.repository_for_read(request, name, found=lookup.repository)
        if cached:
            manifest = cached[1]
        else:
            manifest = lookup.manifest or manifest_resolve_cached(repository=repository, reference=reference)
        manifest = negotiate(repository, manifest, _accepted_types(request))
        head = request.method == "HEAD"
        response = HttpResponse(b"" if head else bytes(manifest.content), content_type=manifest.media_type)
        response["Content-Length"] = str(manifest.size)
        response["Docker-Content-Digest"] = manifest.digest
        response["ETag"] = f'"{manifest.digest}"'
        if not head:
            metrics.PULLS.inc()
            # Audit entry and pull counts: one Redis round trip, written to the database in batches.
            manifest_pull_record(principal=self.principal(request), repository=repository, reference=reference, digest=manifest.digest, request=request_info(request))
        return response

    head = get

    def put(self, request: HttpRequest, name: str, reference: str) -> HttpResponse:
        repository = self.repository_for_push(request, name)
        limit = settings.MOORAGE_LIMITS["max_manifest_bytes"]
        raw = read_limited(request, limit)
        if raw is None:
            raise PayloadTooLargeError(f"manifest exceeds {limit} bytes", detail={"max_bytes": limit})
        extra_tags = tuple(request.GET.getlist("tag"))
        result = manifest_put(
            repository=repository,
            reference=reference,
            raw=raw,
            content_type=request.META.get("CONTENT_TYPE", ""),
            extra_tags=extra_tags,
            actor=self.principal(request),
            request=request_info(request),
        )
        metrics.PUSHES.inc()
        headers = {
            "Location": f"/v2/{name}/manifests/{result.manifest.digest}",
            "Docker-Content-Digest": result.manifest.digest,
        }
        if result.subject_digest:
            headers["OCI-Subject"] = result.subject_digest
        repeated = [("OCI-Tag", tag) for tag in extra_tags] if extra_tags else []
        return empty(201, headers, repeated_headers=repeated)

    def delete(self, request: HttpRequest, name: str, reference: str) -> OCIResponse:
        repository = self.repository_for_read(request, name, Action.DELETE)
        manifest_delete(repository=repository, reference=reference, actor=self.principal(request), request=request_info(request))
        return empty(202)
