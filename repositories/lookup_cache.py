"""Cached reads of the hot /v2 paths: repository by name, manifest by tag or digest.

A pull asks the same two questions again and again (which repository is ``name``, which manifest
does ``tag`` point at); with the answers in Django's cache (Redis when configured) a warm manifest
GET/HEAD runs no query at all, a cold one the two it always ran.

Invalidation is by generation: each repository has a generation value in the cache, and every
cached answer about it carries the generation it was read under. A write that changes what a
read would answer — a tag created, moved, deleted or changed, a manifest pushed or deleted
(garbage collection included), the repository changed, hidden or deleted — sets a new generation
once its transaction commits (``repository_lookups_invalidate``), so every older answer stops
counting at once, on every instance sharing the cache. Model ``save()``/``delete()`` of
Repository, Tag and Manifest invalidate through signals; writes that go through
``QuerySet.update()`` call ``repository_lookups_invalidate`` themselves. A reader that raced a
writer stores its answer under the generation it read first, which the commit has replaced: a
stale answer is never served. Tag expiry needs no write: the cached answer carries
``expires_at`` and is not used past it. Entries also expire after ``TTL_S`` as a backstop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from common.errors import ManifestUnknownError
from common.grammar import is_digest_reference, parse_digest, split_repository_name, validate_tag
from repositories.lookup_invalidation import (
    BLOB_EPOCH_KEY,
    TTL_S,
    blob_epoch_bump,
    blob_key,
    generation_key,
    generation_of,
    hold_key,
    manifest_key,
    repository_key,
    repository_lookups_invalidate,
)
from repositories.models import Blob, Manifest, ManifestBlob, Repository, Tag, UploadedBlob
from repositories.selectors import live_tags, manifest_resolve, repository_find
from repositories.services.uploads import blob_hold_for_push, link_grace

_GENERATION_ATTR = "_lookup_generation"


def repository_find_cached(*, name: str) -> Repository | None:
    """``selectors.repository_find`` through the cache (a missing repository is not cached: the
    first push creates it)."""
    namespace, path = split_repository_name(name)
    full_name = f"{namespace}/{path}"
    entry = cache.get(repository_key(full_name))
    if entry is not None:
        repository, generation = entry
        if cache.get(generation_key(repository.pk)) == generation:
            setattr(repository, _GENERATION_ATTR, generation)
            return repository
    repository = repository_find(name=name)
    if repository is None:
        return None
    generation = generation_of(repository.pk)
    cache.set(repository_key(full_name), (repository, generation), TTL_S)
    setattr(repository, _GENERATION_ATTR, generation)
    return repository


@dataclass(frozen=True)
class _ManifestEntry:
    generation: str
    manifest: Manifest
    expires_at: datetime | None


def manifest_resolve_cached(*, repository: Repository, reference: str) -> Manifest:
    """``selectors.manifest_resolve`` through the cache; MANIFEST_UNKNOWN as it raises (misses
    are not cached)."""
    if is_digest_reference(reference):
        parse_digest(reference)
    else:
        validate_tag(reference)
    generation = getattr(repository, _GENERATION_ATTR, None) or generation_of(repository.pk)
    key = manifest_key(repository.pk, reference)
    entry = cache.get(key)
    if isinstance(entry, _ManifestEntry) and entry.generation == generation:
        if entry.expires_at is None or entry.expires_at > timezone.now():
            return entry.manifest
    expires_at = None
    if is_digest_reference(reference):
        manifest = manifest_resolve(repository=repository, reference=reference)
    else:  # what manifest_resolve does for a tag, keeping the tag's expiry (one query)
        tag = Tag.objects.filter(live_tags(), repository=repository, name=reference).select_related("manifest").first()
        if tag is None:
            raise ManifestUnknownError(detail={"name": repository.full_name, "reference": reference})
        manifest, expires_at = tag.manifest, tag.expires_at
    manifest.content = bytes(manifest.content)  # PostgreSQL hands out a memoryview, which does not pickle
    cache.set(key, _ManifestEntry(generation, manifest, expires_at), TTL_S)
    return manifest


@dataclass(frozen=True)
class _BlobEntry:
    generation: str
    epoch: str | None
    blob: Blob
    valid_until: datetime | None  # None: a manifest in the repository references it


def blob_find_cached(*, repository: Repository, digest: str) -> Blob | None:
    """``selectors.blob_find_in_repository`` through the cache: the blob if a manifest of the
    repository references it (cached until the repository's next write) or an upload link holds
    it (cached until the link expires). A deleted blob row (garbage collection) ends every
    cached answer through a registry-wide blob epoch."""
    generation = getattr(repository, _GENERATION_ATTR, None) or generation_of(repository.pk)
    key = blob_key(repository.pk, digest)
    found = cache.get_many([key, BLOB_EPOCH_KEY])
    entry, epoch = found.get(key), found.get(BLOB_EPOCH_KEY)
    now = timezone.now()
    if isinstance(entry, _BlobEntry) and entry.generation == generation and entry.epoch == epoch:
        if entry.valid_until is None or entry.valid_until > now:
            return entry.blob
    blob = Blob.objects.filter(digest=digest).first()
    if blob is None:
        return None
    valid_until = None
    if not ManifestBlob.objects.filter(repository=repository, blob=blob).exists():
        valid_until = (
            UploadedBlob.objects.filter(repository=repository, blob=blob, expires_at__gt=now)
            .order_by("-expires_at").values_list("expires_at", flat=True).first()
        )
        if valid_until is None:
            return None
    cache.set(key, _BlobEntry(generation, epoch, blob, valid_until), TTL_S)
    return blob


def blob_hold_cached(*, repository: Repository, blob: Blob) -> bool:
    """``services.uploads.blob_hold_for_push`` at most once per quarter of the link grace period
    per repository and blob: after a hold the link lasts at least half the grace period, so for
    the next quarter it still lasts at least a quarter (ample for the manifest PUT that follows
    a HEAD). Unlinking the blob (a repository write) or a blob deletion ends the cached hold."""
    generation = getattr(repository, _GENERATION_ATTR, None) or generation_of(repository.pk)
    key = hold_key(repository.pk, blob.pk)
    found = cache.get_many([key, BLOB_EPOCH_KEY])
    if found.get(key) == (generation, found.get(BLOB_EPOCH_KEY)):
        return True
    if not blob_hold_for_push(repository=repository, blob=blob):
        return False
    cache.set(key, (generation, found.get(BLOB_EPOCH_KEY)), max(1, int(link_grace().total_seconds() / 4)))
    return True


# -- invalidation through model signals ---------------------------------------------------------
@receiver(post_save, sender=Tag, dispatch_uid="lookup_cache.tag_saved")
@receiver(post_save, sender=Manifest, dispatch_uid="lookup_cache.manifest_saved")
@receiver(post_delete, sender=Manifest, dispatch_uid="lookup_cache.manifest_deleted")
def _content_changed(sender: Any, instance: Tag | Manifest, **kwargs: Any) -> None:
    repository_lookups_invalidate(repository_id=instance.repository_id)


@receiver(post_delete, sender=Blob, dispatch_uid="lookup_cache.blob_deleted")
def _blob_deleted(sender: Any, instance: Blob, **kwargs: Any) -> None:
    blob_epoch_bump()


@receiver(post_save, sender=Repository, dispatch_uid="lookup_cache.repository_saved")
@receiver(post_delete, sender=Repository, dispatch_uid="lookup_cache.repository_deleted")
def _repository_changed(sender: Any, instance: Repository, **kwargs: Any) -> None:
    repository_lookups_invalidate(repository_id=instance.pk)
    # A new repository may take the name of one cached under another id (deleted and re-created).
    cache.delete(repository_key(instance.full_name))
