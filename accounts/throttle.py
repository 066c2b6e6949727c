"""Failed-login throttling per user name and per client address, kept in the shared cache.

While the cache (Redis) is unreachable the throttle state is unknown: sign-ins are allowed (the
password check itself still runs) and the outage is logged, so an outage of the cache does not
lock every user out.
"""

from __future__ import annotations

import time

from django.core.cache import cache

from common.cache_outage import CACHE_UNAVAILABLE, cache_unavailable

USER_THRESHOLD = 5
ADDRESS_THRESHOLD = 20
MAX_DELAY_S = 300
WINDOW_S = 900


#: not an account: every app token is presented under this name, so counting failures per name
#: would let five wrong tokens lock every user's app-token logins out (the address still counts)
SHARED_LOGIN_NAMES = frozenset({"$app"})


def _keys(username: str, ip: str | None) -> list[tuple[str, int]]:
    keys = []
    if username not in SHARED_LOGIN_NAMES:
        keys.append((f"login-fail:user:{username.lower()[:200]}", USER_THRESHOLD))
    if ip:
        keys.append((f"login-fail:ip:{ip}", ADDRESS_THRESHOLD))
    return keys


def login_retry_after(*, username: str, ip: str | None) -> int | None:
    """Seconds the caller must wait before trying again, or None when it may try now."""
    now = time.time()
    waits = []
    for key, _threshold in _keys(username, ip):
        try:
            entry = cache.get(key)
        except CACHE_UNAVAILABLE as exc:
            cache_unavailable("login throttling not applied", exc)
            return None
        if entry and entry.get("blocked_until", 0) > now:
            waits.append(int(entry["blocked_until"] - now) + 1)
    return max(waits) if waits else None


def login_failed(*, username: str, ip: str | None) -> None:
    now = time.time()
    try:
        for key, threshold in _keys(username, ip):
            entry = cache.get(key) or {"count": 0, "blocked_until": 0}
            entry["count"] += 1
            if entry["count"] >= threshold:
                # exponential backoff from the threshold on: 2 s, 4 s, 8 s ... up to 5 minutes
                entry["blocked_until"] = now + min(MAX_DELAY_S, 2 ** (entry["count"] - threshold + 1))
            cache.set(key, entry, WINDOW_S)
    except CACHE_UNAVAILABLE as exc:
        cache_unavailable("failed login not counted", exc)


def login_succeeded(*, username: str, ip: str | None) -> None:
    try:
        for key, _threshold in _keys(username, None):
            cache.delete(key)
    except CACHE_UNAVAILABLE as exc:
        cache_unavailable("login failures not reset", exc)
