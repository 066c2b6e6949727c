"""A counter per user and robot that changes whenever their credentials or rights change.

Caches of verified credentials (the /v2 Basic cache) remember the counter they saw and are
ignored once it moved, so a changed password, a revoked app token, a regenerated robot token or
a disabled account stops working at once instead of when the cache entry expires.
"""

from __future__ import annotations

from django.core.cache import cache


def _key(kind: str, principal_id: int) -> str:
    return f"cred-epoch:{kind}:{principal_id}"


def credentials_epoch(kind: str, principal_id: int | None) -> int:
    if principal_id is None:
        return 0
    return int(cache.get(_key(kind, principal_id), 0))


def credentials_changed(kind: str, principal_id: int) -> None:
    key = _key(kind, principal_id)
    try:
        cache.incr(key)
    except ValueError:  # not in the cache yet (or evicted): any new value differs from what was seen
        cache.set(key, credentials_epoch(kind, principal_id) + 1, None)
