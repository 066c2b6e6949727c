"""Failed-login throttling per user name and per client address, kept in the shared cache."""

from __future__ import annotations

import time

from django.core.cache import cache

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
        entry = cache.get(key)
        if entry and entry.get("blocked_until", 0) > now:
            waits.append(int(entry["blocked_until"] - now) + 1)
    return max(waits) if waits else None


def login_failed(*, username: str, ip: str | None) -> None:
    now = time.time()
    for key, threshold in _keys(username, ip):
        entry = cache.get(key) or {"count": 0, "blocked_until": 0}
        entry["count"] += 1
        if entry["count"] >= threshold:
            # exponential backoff from the threshold on: 2 s, 4 s, 8 s ... up to 5 minutes
            entry["blocked_until"] = now + min(MAX_DELAY_S, 2 ** (entry["count"] - threshold + 1))
        cache.set(key, entry, WINDOW_S)


def login_succeeded(*, username: str, ip: str | None) -> None:
    for key, _threshold in _keys(username, None):
        cache.delete(key)
