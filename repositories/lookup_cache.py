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

The cache only makes these reads faster: while it is unreachable (Redis down or restarting), or
while invalidations that failed during an outage are still pending in this process, they go to
the database and store nothing (see ``lookup_invalidation`` for the window that remains).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from common.cache_outage import CACHE_UNAVAILABLE, cache_unavailable
from common.errors import ManifestUnknownError, RegistryError
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
    pending_bumps_flush,
    repository_key,
    repository_lookups_invalidate,
)
from repositories.lookup_proxy import NOT_A_PROXY, proxy_key
from repositories.models import Blob, Manifest, ManifestBlob, Repository, Tag, UploadedBlob
from repositories.selectors import blob_find_in_repository, live_tags, manifest_resolve, repository_find
from repositories.services.uploads import blob_hold_for_push, link_grace

_GENERATION_ATTR = "_lookup_generation"


def _uncached_when_unavailable(fallback: Any) -> Any:
    """Run the cached read, or ``fallback`` (the database read) when the cache cannot be used."""

    def decorate(function: Any) -> Any:
        @functools.wraps(function)
        def wrapped(**kwargs: Any) -> Any:
            if pending_bumps_flush():
                try:
                    return function(**kwargs)
                except CACHE_UNAVAILABLE as exc:
                    cache_unavailable(function.__name__, exc)
            return fallback(**kwargs)

        return wrapped

    return decorate


@_uncached_when_unavailable(repository_find)
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


@_uncached_when_unavailable(manifest_resolve)
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


@_uncached_when_unavailable(blob_find_in_repository)
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


@_uncached_when_unavailable(blob_hold_for_push)
def blob_hold_cached(*, repository: Repository, blob: Blob) -> bool:
    """``services.uploads.blob_hold_for_push`` at most once per quarter of the link grace period
    per repository and blob: after a hold the link lasts at least half the grace period, so for
    the next quarter it still lasts at least a quarter (ample for the manifest PUT that follows
    a HEAD). Unlinking the blob (a repository write) or a blob deletion ends the cached hold."""
    generation = getattr(repository, _GENERATION_ATTR, None) or generation_of(repository.pk)
    key = hold_key(repository.pk, blob.digest)
    found = cache.get_many([key, BLOB_EPOCH_KEY])
    if found.get(key) == (generation, found.get(BLOB_EPOCH_KEY)):
        return True
    if not blob_hold_for_push(repository=repository, blob=blob):
        return False
    cache.set(key, (generation, found.get(BLOB_EPOCH_KEY)), max(1, int(link_grace().total_seconds() / 4)))
    return True


# -- one round trip for a warm request ------------------------------------------------------------
# The functions above read the repository entry, then its generation, then the answer: a round
# trip each. The ones below read them all with one MGET (an atomic snapshot of the keys): the keys
# follow from the request, given the repository's id, which this process remembers per name as a
# *hint* only. The hint is never trusted: the answer counts only when the repository entry read
# in the same MGET names that id and carries the generation read with it, exactly the checks of
# ``repository_find_cached``; a wrong or missing hint costs a second round trip.
_id_hints: dict[str, int] = {}
_ID_HINTS_MAX = 4096


def _repository_snapshot(full_name: str, keys_of: Callable[[int], list[str]], also: Iterable[str] = ()) -> tuple[Repository | None, dict[str, Any]]:
    """The cached repository (None unless current) and the values of ``also`` and ``keys_of(its id)``."""
    name_key = repository_key(full_name)
    hint = _id_hints.get(full_name)
    wanted = [name_key, *also]
    if hint is not None:
        wanted += [generation_key(hint), *keys_of(hint)]
    found = cache.get_many(wanted)
    entry = found.get(name_key)
    if entry is None:
        return None, found
    repository, generation = entry
    if repository.pk != hint:  # the first request for the name here, or the name changed hands
        if len(_id_hints) >= _ID_HINTS_MAX:
            _id_hints.clear()
        _id_hints[full_name] = repository.pk
        found.update(cache.get_many([generation_key(repository.pk), *keys_of(repository.pk)]))
    if found.get(generation_key(repository.pk)) != generation:
        return None, found
    setattr(repository, _GENERATION_ATTR, generation)
    return repository, found


def _valid_reference(reference: str) -> bool:
    try:
        if is_digest_reference(reference):
            parse_digest(reference)
        else:
            validate_tag(reference)
    except RegistryError:
        return False
    return True


@dataclass(frozen=True)
class ManifestLookup:
    """What one cache round trip told about a manifest GET/HEAD; None/False: not known, ask as
    usual (``proxy_manifest_pull``, ``repository_find_cached``, ``manifest_resolve_cached``)."""

    not_a_proxy: bool = False
    repository: Repository | None = None
    manifest: Manifest | None = None  # only with ``repository`` (checked against its generation)


def _manifest_lookup_unknown(**kwargs: Any) -> ManifestLookup:
    return ManifestLookup()


@_uncached_when_unavailable(_manifest_lookup_unknown)
def manifest_lookup_cached(*, name: str, reference: str) -> ManifestLookup:
    """The namespace's "not a proxy cache" answer (``lookup_proxy``), the repository and the
    manifest ``reference`` points at, in one cache round trip when warm. Validates nothing for
    the caller: an invalid name or reference is simply not looked up (the usual path rejects it,
    after authorization as before)."""
    try:
        namespace, path = split_repository_name(name)
    except RegistryError:
        return ManifestLookup()
    full_name = f"{namespace}/{path}"
    valid_reference = _valid_reference(reference)
    proxy = proxy_key(namespace)
    repository, found = _repository_snapshot(
        full_name, lambda repository_id: [manifest_key(repository_id, reference)] if valid_reference else [], also=[proxy]
    )
    manifest = None
    if repository is not None and valid_reference:
        entry = found.get(manifest_key(repository.pk, reference))
        if isinstance(entry, _ManifestEntry) and entry.generation == getattr(repository, _GENERATION_ATTR):
            if entry.expires_at is None or entry.expires_at > timezone.now():
                manifest = entry.manifest
    return ManifestLookup(not_a_proxy=found.get(proxy) == NOT_A_PROXY, repository=repository, manifest=manifest)


@dataclass(frozen=True)
class BlobLookup:
    """What one cache round trip told about a blob HEAD (None/False: ask as usual)."""

    repository: Repository | None = None
    blob: Blob | None = None  # only with ``repository``
    held: bool = False  # only with ``blob``: ``blob_hold_cached`` would answer True without a write


def _blob_lookup_unknown(**kwargs: Any) -> BlobLookup:
    return BlobLookup()


@_uncached_when_unavailable(_blob_lookup_unknown)
def blob_lookup_cached(*, name: str, digest: str) -> BlobLookup:
    """The repository, ``blob_find_cached``'s answer and the GC hold marker, in one cache round
    trip when warm (the same checks: generation, blob epoch, link expiry)."""
    try:
        namespace, path = split_repository_name(name)
        parse_digest(digest)
    except RegistryError:
        return BlobLookup()
    repository, found = _repository_snapshot(
        f"{namespace}/{path}", lambda repository_id: [blob_key(repository_id, digest), hold_key(repository_id, digest)], also=[BLOB_EPOCH_KEY]
    )
    if repository is None:
        return BlobLookup()
    generation, epoch = getattr(repository, _GENERATION_ATTR), found.get(BLOB_EPOCH_KEY)
    entry = found.get(blob_key(repository.pk, digest))
    if not (isinstance(entry, _BlobEntry) and entry.generation == generation and entry.epoch == epoch):
        return BlobLookup(repository=repository)
    if entry.valid_until is not None and entry.valid_until <= timezone.now():
        return BlobLookup(repository=repository)
    held = found.get(hold_key(repository.pk, digest)) == (generation, epoch)
    return BlobLookup(repository=repository, blob=entry.blob, held=held)


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
    # (With the cache unreachable, the old id's pending generation bump ends that entry instead.)
    try:
        cache.delete(repository_key(instance.full_name))
    except CACHE_UNAVAILABLE as exc:
        cache_unavailable("forgetting a repository name", exc)
