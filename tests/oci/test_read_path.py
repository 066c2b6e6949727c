"""The read path of issue 11: a manifest GET records its pull (audit entry ``pull_repo`` and pull
counts) without a database write when Redis is configured, and loses nothing; the catalog of a
non-superuser is one query without DISTINCT."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.principals import ANONYMOUS
from accounts.services import user_create
from repositories.lookup_cache import repository_find_cached
from repositories.models import AuditLog
from repositories.selectors_logs import LogScope, log_window_parse, logs_page
from repositories.services.audit import audit_buffer_drain, audit_buffer_key
from repositories.services.pull_stats import redis_client
from repositories.services.repositories import repository_delete
from tests.oci.test_lookup_cache import PASSWORD, Registry

pytestmark = pytest.mark.django_db

with_redis = pytest.mark.skipif(not settings.REDIS_URL, reason="the Redis buffer is tested in the PostgreSQL+Redis run")
without_redis = pytest.mark.skipif(bool(settings.REDIS_URL), reason="the direct write is what runs without Redis (the SQLite run)")


@pytest.fixture
def registry() -> Registry:
    user_create(username="cacher", password=PASSWORD)
    return Registry(Client(), f"cacher/app-{uuid.uuid4().hex[:8]}")


def pulls_of(registry: Registry) -> list[AuditLog]:
    return list(AuditLog.objects.filter(kind="pull_repo", repository_name=registry.name).order_by("id"))


@with_redis
def test_a_warm_manifest_get_writes_nothing_to_the_database(registry):
    registry.push_image("v1")
    assert registry.get("v1").status_code == 200  # warms the lookup cache
    with CaptureQueriesContext(connection) as queries:
        response = registry.get("v1")
    assert response.status_code == 200
    assert [q["sql"] for q in queries.captured_queries] == []


@with_redis
def test_a_buffered_pull_reaches_the_audit_log_with_its_own_time_after_a_drain(registry):
    digest = registry.push_image("v1")
    before = timezone.now()
    assert registry.get("v1").status_code == 200
    after = timezone.now()
    assert pulls_of(registry) == []  # still in Redis
    assert audit_buffer_drain() >= 1
    [entry] = pulls_of(registry)
    assert entry.metadata == {"reference": "v1", "digest": digest}
    assert entry.performer_name == "cacher" and entry.performer_user_id is not None
    assert entry.repository_id == repository_find_cached(name=registry.name).pk
    assert before - timedelta(seconds=1) <= entry.created <= after + timedelta(seconds=1)
    assert audit_buffer_drain() == 0  # drained once, written once


@with_redis
def test_the_logs_api_selector_sees_a_pull_without_waiting_for_the_periodic_drain(registry):
    registry.push_image("v1")
    assert registry.get("v1").status_code == 200
    page = logs_page(scope=LogScope(repository_id=repository_find_cached(name=registry.name).pk), window=log_window_parse(starttime=None, endtime=None))
    assert "pull_repo" in [entry["kind"] for entry in page.entries]


@with_redis
def test_a_pull_of_a_repository_deleted_before_the_drain_keeps_its_names(registry):
    registry.push_image("v1")
    assert registry.get("v1").status_code == 200
    repository_delete(repository=repository_find_cached(name=registry.name), actor=ANONYMOUS)
    audit_buffer_drain()
    [entry] = pulls_of(registry)
    assert entry.repository_id is None
    assert entry.repository_name == registry.name and entry.namespace_name == "cacher"


@with_redis
def test_the_drain_writes_in_batches_and_leaves_later_pulls_for_the_next_one(registry, monkeypatch):
    from repositories.services import audit

    monkeypatch.setattr(audit, "_DRAIN_BATCH", 2)
    registry.push_image("v1")
    for _ in range(5):
        assert registry.get("v1").status_code == 200
    assert audit_buffer_drain(max_batches=2) == 4
    assert redis_client().llen(audit_buffer_key()) == 1
    assert audit_buffer_drain() == 1
    assert len(pulls_of(registry)) == 5


@with_redis
def test_an_unreadable_buffered_entry_is_dropped_without_blocking_the_pulls_behind_it(registry):
    registry.push_image("v1")
    redis_client().rpush(audit_buffer_key(), b"not json", b'{"k": "pull_repo"}')
    assert registry.get("v1").status_code == 200
    assert audit_buffer_drain() == 1
    assert redis_client().llen(audit_buffer_key()) == 0
    assert len(pulls_of(registry)) == 1


@without_redis
def test_without_redis_a_pull_is_in_the_audit_log_at_once(registry):
    digest = registry.push_image("v1")
    assert registry.get("v1").status_code == 200
    assert [entry.metadata for entry in pulls_of(registry)] == [{"reference": "v1", "digest": digest}]


def test_a_pull_is_written_directly_when_redis_does_not_answer(registry, settings):
    import socket

    with socket.socket() as unused:  # a port nobody listens on: connection refused
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    digest = registry.push_image("v1")
    assert registry.get("v1").status_code == 200  # warm the lookups while the cache works
    AuditLog.objects.filter(kind="pull_repo").delete()
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"  # the pull buffer's Redis only; the lookup cache stays
    assert registry.get("v1").status_code == 200
    assert [entry.metadata for entry in pulls_of(registry)] == [{"reference": "v1", "digest": digest}]


def test_a_non_superuser_catalog_page_is_one_query_without_distinct(registry):
    for index in range(3):
        registry.push_image(f"v{index}")
    response = registry.client.get("/v2/auth", {"service": "testserver", "scope": "registry:catalog:*"}, HTTP_AUTHORIZATION=registry.auth_basic)
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {response.json()['token']}"}
    registry.client.get("/v2/_catalog?n=1", **bearer)  # warm whatever the token check caches
    with CaptureQueriesContext(connection) as queries:
        page = registry.client.get("/v2/_catalog?n=100", **bearer)
    assert page.status_code == 200
    assert registry.name in page.json()["repositories"]
    catalog = [q["sql"] for q in queries.captured_queries if '"repositories_repository"' in q["sql"]]
    assert len(catalog) == 1
    assert "DISTINCT" not in catalog[0].upper()
    assert "JOIN" not in catalog[0].upper().split("WHERE")[0]  # no join before the filter: subqueries only
