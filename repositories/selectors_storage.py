"""Reads about where blob bytes live: placements, blobs missing from a location, a manifest's blobs."""

from __future__ import annotations

from typing import Iterator

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q

from repositories.models import Blob, BlobPlacement

#: Rows fetched per query while walking every blob or placement (keeps memory flat).
BATCH = 500


def configured_locations() -> list[str]:
    """Every configured location name: the preference order first, then any location the
    preference list leaves out (they still hold blobs and may be read from)."""
    preferred = list(settings.MOORAGE_STORAGE_PREFERENCE)
    return preferred + [name for name in settings.MOORAGE_STORAGE_LOCATIONS if name not in preferred]


def blob_holding_locations(*, blob: Blob) -> list[str]:
    """The configured locations recorded as holding ``blob``, in preference order."""
    held = set(BlobPlacement.objects.filter(blob=blob).values_list("location", flat=True))
    return [name for name in configured_locations() if name in held]


def manifest_blobs(*, manifest_id: int) -> list[Blob]:
    """The blobs (config and layers) a manifest references."""
    return list(Blob.objects.filter(manifest_links__manifest_id=manifest_id).distinct().order_by("id"))


def blobs_missing_from(*, locations: list[str]) -> Iterator[Blob]:
    """Blobs with at least one placement that lack a placement in one of ``locations``, by id,
    fetched in batches."""
    wanted = len(set(locations))
    queryset = (
        Blob.objects.annotate(held=Count("placements", filter=Q(placements__location__in=locations), distinct=True))
        .filter(held__lt=wanted)
        .filter(Exists(BlobPlacement.objects.filter(blob=OuterRef("pk"))))
        .order_by("id")
    )
    last_id = 0
    while True:
        batch = list(queryset.filter(id__gt=last_id)[:BATCH])
        if not batch:
            return
        last_id = batch[-1].id
        yield from batch


def blobs_missing_count(*, locations: list[str]) -> int:
    wanted = len(set(locations))
    return (
        Blob.objects.annotate(held=Count("placements", filter=Q(placements__location__in=locations), distinct=True))
        .filter(held__lt=wanted)
        .filter(Exists(BlobPlacement.objects.filter(blob=OuterRef("pk"))))
        .count()
    )


def blobs_without_placement_count() -> int:
    """Blobs no location is recorded to hold (lost bytes; nothing can be copied)."""
    return Blob.objects.filter(~Exists(BlobPlacement.objects.filter(blob=OuterRef("pk")))).count()


def blobs_with_placements(*, location: str | None = None) -> Iterator[Blob]:
    """Blobs with a placement (in ``location`` when given), by id, with their placements prefetched."""
    queryset = Blob.objects.filter(Exists(BlobPlacement.objects.filter(blob=OuterRef("pk"))))
    if location is not None:
        queryset = queryset.filter(Exists(BlobPlacement.objects.filter(blob=OuterRef("pk"), location=location)))
    queryset = queryset.order_by("id").prefetch_related("placements")
    last_id = 0
    while True:
        batch = list(queryset.filter(id__gt=last_id)[:BATCH])
        if not batch:
            return
        last_id = batch[-1].id
        yield from batch


def placements_count(*, location: str | None = None) -> int:
    queryset = BlobPlacement.objects.all()
    if location is not None:
        queryset = queryset.filter(location=location)
    return queryset.count()
