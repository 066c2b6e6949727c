"""An unreachable cache (Redis down or restarting) seen by code that can do without it.

Reads that only use the cache to go faster (the /v2 lookups, the Basic-credentials cache,
failed-login throttling) treat ``CACHE_UNAVAILABLE`` errors as a miss and carry on against the
database; ``cache_unavailable`` logs that once per ``LOG_EVERY_S`` per process, not once per request.
"""

from __future__ import annotations

import logging
import time

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger("moorage.backends")

#: what the Redis cache raises when Redis is down, restarting or does not answer in time
CACHE_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError)
LOG_EVERY_S = 30.0
_last_logged = 0.0


def cache_unavailable(what: str, exc: BaseException) -> None:
    global _last_logged
    now = time.monotonic()
    if now - _last_logged >= LOG_EVERY_S:
        _last_logged = now
        logger.warning("cache unavailable (%s), carrying on without it: %s", what, exc)
