"""Cached quota thresholds of a namespace, read by every chunk of every push.

A namespace's quota (its limit and Warning/Reject percentages) changes rarely but is read on
every upload request; without the cache that is one query per PATCH. An entry carries the quota
epoch it was read under (``lookup_invalidation.QUOTA_EPOCH_KEY``), which every change of a
quota or limit replaces once its transaction commits: a reader that raced the change stored its
answer under the old epoch, so a stale threshold is never used. Entry and epoch are read in one
round trip. While the cache is unreachable (or invalidations that failed are still pending in
this process) the thresholds come from the database.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import cache
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from common.cache_outage import CACHE_UNAVAILABLE, cache_unavailable
from repositories.lookup_invalidation import QUOTA_EPOCH_KEY, TTL_S, pending_bumps_flush, quota_epoch_bump, quota_key
from repositories.models.lifecycle import NamespaceQuota, QuotaLimit

T = TypeVar("T")

_NO_QUOTA = "none"  # a cached "this namespace has no quota" (None is the cache's miss)


def thresholds_cached(namespace_id: int, read: Callable[[int], T | None]) -> T | None:
    """``read(namespace_id)`` (the database read) through the cache."""
    if not pending_bumps_flush():
        return read(namespace_id)
    key = quota_key(namespace_id)
    try:
        found = cache.get_many([QUOTA_EPOCH_KEY, key])
        epoch = found.get(QUOTA_EPOCH_KEY)
        if epoch is None:  # never set, or evicted: start one (no older entry can match it)
            cache.add(QUOTA_EPOCH_KEY, uuid.uuid4().hex, None)
            epoch = cache.get(QUOTA_EPOCH_KEY)
        entry = found.get(key)
        if entry is not None and entry[0] == epoch:
            return None if entry[1] == _NO_QUOTA else entry[1]
        thresholds = read(namespace_id)
        cache.set(key, (epoch, _NO_QUOTA if thresholds is None else thresholds), TTL_S)
        return thresholds
    except CACHE_UNAVAILABLE as exc:
        cache_unavailable("reading quota thresholds", exc)
        return read(namespace_id)


@receiver(post_save, sender=NamespaceQuota, dispatch_uid="quota_cache.quota_saved")
@receiver(post_delete, sender=NamespaceQuota, dispatch_uid="quota_cache.quota_deleted")
@receiver(post_save, sender=QuotaLimit, dispatch_uid="quota_cache.limit_saved")
@receiver(post_delete, sender=QuotaLimit, dispatch_uid="quota_cache.limit_deleted")
def _quota_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    quota_epoch_bump()
