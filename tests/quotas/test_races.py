"""Concurrent pushes into one namespace: the usage row lock keeps the incremental accounting
exact (it equals a recomputation), and concurrent pushes near the limit never together overshoot."""

from __future__ import annotations

import os

import pytest

from repositories.media_types import OCI_MANIFEST
from repositories.models import Manifest
from repositories.models.lifecycle import NamespaceUsage
from repositories.services.manifests import manifest_put
from repositories.services.quotas import QuotaExceededError, namespace_usage_recompute, quota_create, quota_limit_create
from repositories.services.repositories import repository_get_or_create
from tests.factories import image_manifest
from tests.repositories.helpers import push_blob, race

pytestmark = pytest.mark.django_db(transaction=True)

CONFIG = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'


def prepared(repository, shared: bytes, own: bytes):
    """Upload the blobs now; return the manifest PUT to race."""
    for data in (CONFIG, shared, own):
        push_blob(repository=repository, data=data)
    raw = image_manifest(config=CONFIG, layers=[shared, own])
    return lambda: manifest_put(repository=repository, reference="v1", raw=raw, content_type=OCI_MANIFEST)


def test_concurrent_pushes_sharing_a_layer_count_it_once(acme):
    shared = os.urandom(4000)
    pushes = [prepared(repository_get_or_create(name=f"acme/app{i}"), shared, os.urandom(100 + i)) for i in range(6)]

    outcomes = race(pushes)

    assert all(outcome.error is None for outcome in outcomes), [o.error for o in outcomes]
    counted = NamespaceUsage.objects.get(namespace=acme.namespace).size_bytes
    assert counted == namespace_usage_recompute(namespace_id=acme.namespace_id)
    assert counted == len(CONFIG) + 4000 + sum(100 + i for i in range(6))


def test_concurrent_manifest_puts_never_overshoot_the_reject_limit(acme):
    quota = quota_create(namespace=acme.namespace, limit_bytes=10_000)
    quota_limit_create(quota=quota, limit_type="Reject", threshold_percent=100)
    # each image is ~3 000 bytes of new content: at most three fit under 10 000
    pushes = [prepared(repository_get_or_create(name=f"acme/img{i}"), os.urandom(2900), os.urandom(10)) for i in range(5)]

    outcomes = race(pushes)

    refused = [o for o in outcomes if isinstance(o.error, QuotaExceededError)]
    assert all(o.error is None or isinstance(o.error, QuotaExceededError) for o in outcomes), [o.error for o in outcomes]
    assert len(refused) == 5 - Manifest.objects.filter(repository__namespace=acme.namespace).count()
    assert namespace_usage_recompute(namespace_id=acme.namespace_id) <= 10_000
    assert len(refused) >= 2
