"""The quota thresholds a chunk is checked against come from the cache (no query when warm), and
every change of a quota or of one of its limits takes effect on the very next chunk: through the
real /v2 endpoints, with the cache the run configures (Redis in the PostgreSQL run)."""

from __future__ import annotations

import os

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from repositories.models import Repository
from repositories.quota_cache import thresholds_cached
from repositories.services.quotas import _thresholds, quota_change, quota_create, quota_delete, quota_limit_change, quota_limit_create
from repositories.services.repositories import repository_get_or_create

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("open_registry")]

CHUNK = 10_000


@pytest.fixture
def repository(acme) -> Repository:
    return repository_get_or_create(name="acme/cached")


def _upload(client: Client, repository: Repository) -> str:
    start = client.post(f"/v2/{repository.full_name}/blobs/uploads/", data=b"", content_type="application/octet-stream")
    assert start.status_code == 202, start.content
    return start["Location"]


def _patch(client: Client, location: str, offset: int):
    return client.generic(
        "PATCH", location, os.urandom(CHUNK), content_type="application/octet-stream", HTTP_CONTENT_RANGE=f"{offset}-{offset + CHUNK - 1}"
    )


def test_a_warm_chunk_reads_no_quota_row(repository, acme):
    quota = quota_create(namespace=acme.namespace, limit_bytes=10_000_000)
    quota_limit_create(quota=quota, limit_type="Reject", threshold_percent=90)
    client = Client()
    location = _upload(client, repository)
    assert _patch(client, location, 0).status_code == 202  # warms the cache

    with CaptureQueriesContext(connection) as queries:
        assert _patch(client, location, CHUNK).status_code == 202

    sql = "\n".join(q["sql"] for q in queries.captured_queries)
    assert "repositories_namespacequota" not in sql and "repositories_quotalimit" not in sql, sql


def test_a_quota_created_changed_or_deleted_applies_to_the_next_chunk(repository, acme):
    client = Client()
    location = _upload(client, repository)
    assert _patch(client, location, 0).status_code == 202  # cached: no quota

    quota = quota_create(namespace=acme.namespace, limit_bytes=CHUNK * 10)
    limit = quota_limit_create(quota=quota, limit_type="Reject", threshold_percent=100)
    assert _patch(client, location, CHUNK).status_code == 202  # 2 chunks of room for 10
    quota_change(quota=quota, limit_bytes=CHUNK // 2)  # a chunk no longer fits
    refused = _patch(client, _upload(client, repository), 0)
    assert refused.status_code == 403 and refused.json()["errors"][0]["code"] == "DENIED", refused.content

    quota_change(quota=quota, limit_bytes=CHUNK * 100)
    location = _upload(client, repository)
    assert _patch(client, location, 0).status_code == 202
    quota_limit_change(limit=limit, threshold_percent=1)  # the Reject threshold drops to CHUNK bytes
    assert _patch(client, location, CHUNK).status_code == 403

    quota_delete(quota=quota)
    location = _upload(client, repository)
    assert _patch(client, location, 0).status_code == 202


def test_an_answer_read_before_a_change_is_never_served_after_it(repository, acme):
    """A reader that read the database before a change and stores its answer after it stored it
    under the old epoch: the next reader does not take it."""
    quota = quota_create(namespace=acme.namespace, limit_bytes=1_000)
    stale = _thresholds(acme.namespace.pk)

    def racing_read(namespace_id: int):
        quota_change(quota=quota, limit_bytes=2_000)  # commits while the "reader" is between read and store
        return stale

    assert thresholds_cached(acme.namespace.pk, racing_read).limit_bytes == 1_000  # what that reader saw
    assert thresholds_cached(acme.namespace.pk, _thresholds).limit_bytes == 2_000
