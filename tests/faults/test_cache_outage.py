"""In process, against a private Redis behind a forwarder that is cut: what the code that can do
without the cache does while it is unreachable, and the invalidations it owes once it is back."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings

from accounts.throttle import USER_THRESHOLD, login_failed, login_retry_after
from repositories import lookup_invalidation
from repositories.lookup_invalidation import generation_key, pending_bumps_flush, repository_lookups_invalidate
from tests.faults.services import PrivateRedis, TcpProxy


@pytest.fixture(scope="module")
def redis_server():
    server = PrivateRedis().start()
    yield server
    server.stop()


@pytest.fixture
def link(redis_server):
    proxy = TcpProxy(redis_server.port).restore()
    caches = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": f"redis://127.0.0.1:{proxy.port}/0"}}
    with override_settings(CACHES=caches):
        cache.clear()
        yield proxy
    proxy.cut()
    lookup_invalidation._pending_generations.clear()
    lookup_invalidation._pending_blob_epoch = False


def test_failed_login_throttling_allows_and_counts_nothing_while_the_cache_is_unreachable(link):
    for _ in range(USER_THRESHOLD):
        login_failed(username="mallory", ip="192.0.2.7")
    assert login_retry_after(username="mallory", ip="192.0.2.7") is not None  # throttled with the cache up

    link.cut()
    assert login_retry_after(username="mallory", ip="192.0.2.7") is None  # state unknown: allowed
    login_failed(username="eve", ip="192.0.2.8")  # not counted, no error
    link.restore()
    assert login_retry_after(username="mallory", ip="192.0.2.7") is not None  # the state survived


@pytest.mark.django_db
def test_an_invalidation_that_cannot_reach_the_cache_is_applied_once_it_answers(link):
    repository_id = 987654
    cache.set(generation_key(repository_id), "before-the-outage", 600)

    link.cut()
    repository_lookups_invalidate(repository_id=repository_id)  # no error: remembered instead
    assert repository_id in lookup_invalidation._pending_generations
    assert pending_bumps_flush() is False  # still unreachable: the cache must not be read
    link.restore()

    assert pending_bumps_flush() is True
    assert not lookup_invalidation._pending_generations
    assert cache.get(generation_key(repository_id)) not in (None, "before-the-outage")


@pytest.fixture
def hung_link(redis_server):
    """The cache as production configures it (its socket timeouts included) behind a forwarder
    that can be switched to accept and never answer."""
    proxy = TcpProxy(redis_server.port).restore()
    caches = {"default": {
        "BACKEND": "registry_site.redis_cache.ReusingRedisCache", "LOCATION": f"redis://127.0.0.1:{proxy.port}/0",
        "OPTIONS": settings.REDIS_SOCKET_OPTIONS,
    }}
    with override_settings(CACHES=caches):
        cache.clear()
        yield proxy
    proxy.unhang()
    proxy.cut()
    lookup_invalidation._pending_generations.clear()
    lookup_invalidation._pending_blob_epoch = False


# A hung Redis without socket timeouts would block these calls for good: the test's own timeout
# is what fails then.
@pytest.mark.timeout(90)
@pytest.mark.django_db
def test_a_redis_that_never_answers_counts_as_down_after_the_socket_timeout(hung_link):
    for _ in range(USER_THRESHOLD):
        login_failed(username="mallory", ip="192.0.2.7")
    repository_id = 876543
    cache.set(generation_key(repository_id), "before-the-hang", 600)  # the pooled connection is open

    hung_link.hang()  # the open connection and new ones: accepted, never answered
    assert login_retry_after(username="mallory", ip="192.0.2.7") is None  # state unknown: allowed
    repository_lookups_invalidate(repository_id=repository_id)  # no error: remembered instead
    assert repository_id in lookup_invalidation._pending_generations
    hung_link.unhang()

    assert pending_bumps_flush() is True
    assert cache.get(generation_key(repository_id)) not in (None, "before-the-hang")
    # The failure count survived the hang (its first back-off has run out meanwhile): one more
    # failure blocks again, where a lost count would have started from one.
    login_failed(username="mallory", ip="192.0.2.7")
    assert login_retry_after(username="mallory", ip="192.0.2.7") is not None
