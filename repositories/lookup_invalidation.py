"""Generations of the cached /v2 lookups (``repositories.lookup_cache``) and their invalidation.

Kept apart from the cached reads so that services can invalidate without importing them (the
reads use services in turn). Django's cache (Redis when configured) holds the values.

An unreachable cache does not fail a write: a generation (or blob epoch) bump that cannot reach
it is remembered in this process and retried by a background thread every ``RETRY_EVERY_S`` and
before this process reads anything from the cache again (``pending_bumps_flush``). Entries cached
before the outage could otherwise be served by every instance once Redis is back. The remaining
window: other processes may serve such an entry until the retry lands (about ``RETRY_EVERY_S``
after Redis answers), or until the entry's ``TTL_S`` when the process that failed to invalidate
dies before Redis returns.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

from django.core.cache import cache
from django.db import transaction

from common.cache_outage import CACHE_UNAVAILABLE, cache_unavailable

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


def hold_key(repository_id: int, digest: str) -> str:
    # By digest, so a blob HEAD can name it before reading anything (a blob row deleted and made
    # again under the same digest bumps the blob epoch, which ends the old hold).
    return f"{PREFIX}hold:{repository_id}:{digest}"


BLOB_EPOCH_KEY = f"{PREFIX}blob-epoch"
#: One epoch for every namespace's quota thresholds: they change rarely, and one key read in the
#: same round trip as the namespace's entry keeps the push path at one Redis call.
QUOTA_EPOCH_KEY = f"{PREFIX}quota-epoch"
RETRY_EVERY_S = 1.0


def quota_key(namespace_id: int) -> str:
    return f"{PREFIX}quota:{namespace_id}"


_pending_lock = threading.Lock()
_pending_generations: set[int] = set()
_pending_blob_epoch = False
_pending_quota_epoch = False
_retrying = False


def _set_generation(repository_id: int) -> None:
    cache.set(generation_key(repository_id), uuid.uuid4().hex, TTL_S * 2)


def _set_blob_epoch() -> None:
    cache.set(BLOB_EPOCH_KEY, uuid.uuid4().hex, None)


def _set_quota_epoch() -> None:
    cache.set(QUOTA_EPOCH_KEY, uuid.uuid4().hex, None)


def _remember(*, repository_id: int | None = None, blob_epoch: bool = False, quota_epoch: bool = False) -> None:
    global _pending_blob_epoch, _pending_quota_epoch, _retrying
    with _pending_lock:
        if repository_id is not None:
            _pending_generations.add(repository_id)
        _pending_blob_epoch = _pending_blob_epoch or blob_epoch
        _pending_quota_epoch = _pending_quota_epoch or quota_epoch
        start, _retrying = not _retrying, True
    if start:
        threading.Thread(target=_retry_until_flushed, name="lookup-invalidation-retry", daemon=True).start()


def _retry_until_flushed() -> None:
    global _retrying
    while True:
        if pending_bumps_flush():
            with _pending_lock:
                if not _pending_generations and not _pending_blob_epoch and not _pending_quota_epoch:
                    _retrying = False
                    return
        threading.Event().wait(RETRY_EVERY_S)


def pending_bumps_flush() -> bool:
    """Apply the bumps that failed while the cache was unreachable; True when none is left (the
    cache may be read), False while the cache is still unreachable."""
    global _pending_blob_epoch, _pending_quota_epoch
    if not _pending_generations and not _pending_blob_epoch and not _pending_quota_epoch:
        return True
    with _pending_lock:
        repositories, blob_epoch, quota_epoch = list(_pending_generations), _pending_blob_epoch, _pending_quota_epoch
    try:
        for repository_id in repositories:
            _set_generation(repository_id)
            with _pending_lock:
                _pending_generations.discard(repository_id)
        if blob_epoch:
            _set_blob_epoch()
            with _pending_lock:
                _pending_blob_epoch = False
        if quota_epoch:
            _set_quota_epoch()
            with _pending_lock:
                _pending_quota_epoch = False
    except CACHE_UNAVAILABLE as exc:
        cache_unavailable("retrying lookup invalidations", exc)
        return False
    return True


def generation_of(repository_id: int) -> str:
    """The repository's current generation, starting a new one when the cache has none (then
    nothing cached before can match: an evicted generation never revives old answers)."""
    key = generation_key(repository_id)
    value = cache.get(key)
    if value is None:
        cache.add(key, uuid.uuid4().hex, TTL_S * 2)
        value = cache.get(key)
    return value


def _bump_now_and_at_commit(set_new_value: Callable[[], None], what: str, **pending: object) -> None:
    """Set a new generation or epoch now, and again when the current transaction commits. The
    second bump is the one that matters to other connections (a reader that saw the old rows
    while the transaction ran cached them under the first new value); the first keeps this
    connection's own reads right inside the transaction (and in tests, whose transactions never
    commit). A bump the cache refuses is remembered (``pending``, see ``_remember``) and retried."""

    def bump() -> None:
        try:
            set_new_value()
        except CACHE_UNAVAILABLE as exc:
            cache_unavailable(what, exc)
            _remember(**pending)

    bump()
    transaction.on_commit(bump)


def repository_lookups_invalidate(*, repository_id: int) -> None:
    """Forget every cached lookup of the repository (now and at commit)."""
    _bump_now_and_at_commit(lambda: _set_generation(repository_id), "invalidating lookups", repository_id=repository_id)


def blob_epoch_bump() -> None:
    """A blob row was deleted: every cached blob lookup and hold stops counting (now and at commit)."""
    _bump_now_and_at_commit(_set_blob_epoch, "invalidating blob lookups", blob_epoch=True)


def quota_epoch_bump() -> None:
    """A namespace quota or one of its limits changed: every cached quota threshold stops counting
    (now and at commit)."""
    _bump_now_and_at_commit(_set_quota_epoch, "invalidating quota thresholds", quota_epoch=True)
