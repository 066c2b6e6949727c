"""Reads behind SBOM export: the image information of a manifest and its SBOM document, built
from the packages the indexer stored (``selectors_security.manifest_packages``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from repositories.media_types import INDEX_TYPES
from repositories.models import Manifest, Repository
from repositories.scanning.sbom import ImageInfo, sbom_document
from repositories.selectors_security import manifest_packages
from repositories.selectors_tags import config_document, manifest_config_blob


class SbomUnavailable(Exception):
    """No SBOM can be made for this manifest (yet); ``reason`` says why, for people."""

    def __init__(self, reason: str, *, index: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.index = index


def manifest_image_info(*, repository: Repository, manifest: Manifest) -> ImageInfo:
    """Name (with the configured server hostname when there is one), digest and build time."""
    host = getattr(settings, "MOORAGE_SERVER_HOSTNAME", "") or ""
    name = f"{host}/{repository.full_name}" if host else repository.full_name
    created = None
    blob = manifest_config_blob(manifest=manifest)
    if blob is not None:
        document = config_document(blob=blob)
        value = document.get("created") if document is not None else None
        if isinstance(value, str):
            try:
                created = parse_datetime(value)
            except ValueError:
                created = None
            if created is not None and timezone.is_naive(created):
                created = timezone.make_aware(created, timezone.utc)
    return ImageInfo(name=name, digest=manifest.digest, created=created)


def manifest_sbom(*, repository: Repository, manifest: Manifest, fmt: str) -> dict[str, Any]:
    """The SBOM of an image manifest in ``fmt`` (``spdx`` or ``cyclonedx``).

    Raises:
        SbomUnavailable: an index (ask for each platform's manifest), or not scanned (yet).
        ValueError: an unknown format.
    """
    if manifest.media_type in INDEX_TYPES:
        raise SbomUnavailable("an image index has no packages of its own: ask for the SBOM of one of its platform manifests",
                              index=True)
    packages = manifest_packages(manifest)
    if packages is None:
        raise SbomUnavailable("the manifest has not been scanned (yet), or it is not a container image")
    return sbom_document(fmt, packages, manifest_image_info(repository=repository, manifest=manifest))
