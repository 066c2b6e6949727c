"""Generations of the cached /v2 lookups (``repositories.lookup_cache``) and their invalidation.

Kept apart from the cached reads so that services can invalidate without importing them (the
reads use services in turn). Django's cache (Redis when configured) holds the values.
"""

from __future__ import annotations

import uuid

from django.core.cache import cache
from django.db import transaction

PREFIX = "v2lookup:"
TTL_S = 300


def generation_key(repository_id: int) -> str:
    return f"{PREFIX}gen:{repository_id}"


def repository_key(full_name: str) -> str:
    return f"{PREFIX}repo:{full_name}"


def manifest_key(repository_id: int, reference: str) -> str:
    return f"{PREFIX}manifest:{repository_id}:{reference}"


def blob_key(repository_id: int, digest: str) -> str:
    return f"{PREFIX}blob:{repository_id}:{digest}"


def hold_key(repository_id: int, blob_id: int) -> str:
    return f"{PREFIX}hold:{repository_id}:{blob_id}"


BLOB_EPOCH_KEY = f"{PREFIX}blob-epoch"


def generation_of(repository_id: int) -> str:
    """The repository's current generation, starting a new one when the cache has none (then
    nothing cached before can match: an evicted generation never revives old answers)."""
    key = generation_key(repository_id)
    value = cache.get(key)
    if value is None:
        cache.add(key, uuid.uuid4().hex, TTL_S * 2)
        value = cache.get(key)
    return value


def repository_lookups_invalidate(*, repository_id: int) -> None:
    """Forget every cached lookup of the repository: now, and again when the current transaction
    commits. The second bump is the one that matters to other connections (a reader that saw the
    old rows while the transaction ran cached them under the first new generation); the first
    keeps this connection's own reads right inside the transaction (and in tests, whose
    transactions never commit)."""

    def bump() -> None:
        cache.set(generation_key(repository_id), uuid.uuid4().hex, TTL_S * 2)

    bump()
    transaction.on_commit(bump)


def blob_epoch_bump() -> None:
    """A blob row was deleted: every cached blob lookup and hold stops counting (now and at commit)."""

    def bump() -> None:
        cache.set(BLOB_EPOCH_KEY, uuid.uuid4().hex, None)

    bump()
    transaction.on_commit(bump)
