"""Usage accounting: deduplicated per namespace and per repository, kept current on push,
recomputed from the content tables to fix drift (the periodic task and the garbage collector's
hook), with threshold notifications re-armed when usage drops."""

from __future__ import annotations

import os

import pytest

from repositories.media_types import OCI_MANIFEST
from repositories.models import ManifestBlob
from repositories.models.lifecycle import NamespaceUsage, RepositoryUsage
from repositories.selectors_usage import namespace_usage, repository_usage
from repositories.services.manifests import manifest_put
from repositories.services.quotas import namespace_usage_recompute, quota_create, quota_limit_create
from repositories.services.repositories import repository_get_or_create
from tasks.quotas import recompute
from tests.factories import image_manifest
from tests.repositories.helpers import push_blob

CONFIG = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'


def push(repository, tag: str, layers: list[bytes]) -> None:
    for data in (CONFIG, *layers):
        push_blob(repository=repository, data=data)
    manifest_put(repository=repository, reference=tag, raw=image_manifest(config=CONFIG, layers=layers), content_type=OCI_MANIFEST)


@pytest.fixture
def app(acme):
    return repository_get_or_create(name="acme/app")


@pytest.fixture
def web(acme):
    return repository_get_or_create(name="acme/web")


def test_a_blob_used_by_two_repositories_of_a_namespace_counts_once(app, web, acme):
    shared, own = os.urandom(5000), os.urandom(700)
    push(app, "v1", [shared])
    push(web, "v1", [shared, own])

    assert namespace_usage(namespace_id=acme.namespace_id).size_bytes == len(CONFIG) + 5000 + 700
    assert repository_usage(repository_id=app.pk) == len(CONFIG) + 5000
    assert repository_usage(repository_id=web.pk) == len(CONFIG) + 5000 + 700


def test_pushing_the_same_image_again_adds_nothing(app, acme):
    layer = os.urandom(3000)
    push(app, "v1", [layer])
    push(app, "v2", [layer])
    assert NamespaceUsage.objects.get(namespace=acme.namespace).size_bytes == len(CONFIG) + 3000
    assert RepositoryUsage.objects.get(repository=app).size_bytes == len(CONFIG) + 3000


def test_namespaces_are_counted_separately(app, alice):
    other = repository_get_or_create(name=f"{alice.username}/tools")
    push(app, "v1", [os.urandom(1000)])
    push(other, "v1", [os.urandom(2000)])
    assert namespace_usage(namespace_id=app.namespace_id).size_bytes == len(CONFIG) + 1000
    assert namespace_usage(namespace_id=other.namespace_id).size_bytes == len(CONFIG) + 2000


def test_recompute_fixes_drift(app, web, acme):
    push(app, "v1", [os.urandom(4000)])
    push(web, "v1", [os.urandom(6000)])
    NamespaceUsage.objects.filter(namespace=acme.namespace).update(size_bytes=123)
    RepositoryUsage.objects.filter(repository=app).update(size_bytes=999_999)

    size = namespace_usage_recompute(namespace_id=acme.namespace_id)

    assert size == len(CONFIG) + 4000 + 6000
    assert namespace_usage(namespace_id=acme.namespace_id).size_bytes == size
    assert repository_usage(repository_id=app.pk) == len(CONFIG) + 4000
    assert NamespaceUsage.objects.get(namespace=acme.namespace).recomputed_at is not None


def test_recompute_counts_content_removed_by_the_collector(app, acme):
    push(app, "v1", [os.urandom(4000)])
    push(app, "v2", [os.urandom(8000)])
    ManifestBlob.objects.filter(repository=app, blob__size=8000).delete()  # what GC does to a collected manifest

    recompute(namespace_id=acme.namespace_id)  # the task the collector's hook and beat run

    assert namespace_usage(namespace_id=acme.namespace_id).size_bytes == len(CONFIG) + 4000


def test_the_periodic_task_recomputes_every_namespace(app, alice):
    other = repository_get_or_create(name=f"{alice.username}/tools")
    push(app, "v1", [os.urandom(100)])
    push(other, "v1", [os.urandom(200)])
    NamespaceUsage.objects.update(size_bytes=0)

    assert recompute() >= 2

    assert namespace_usage(namespace_id=app.namespace_id).size_bytes == len(CONFIG) + 100
    assert namespace_usage(namespace_id=other.namespace_id).size_bytes == len(CONFIG) + 200


def test_a_drop_below_the_warning_threshold_rearms_its_notification(app, acme, events, django_capture_on_commit_callbacks):
    quota = quota_create(namespace=acme.namespace, limit_bytes=10_000)
    quota_limit_create(quota=quota, limit_type="Warning", threshold_percent=50)
    with django_capture_on_commit_callbacks(execute=True):
        push(app, "v1", [os.urandom(6000)])
        push(app, "v2", [os.urandom(100)])  # still above: no second warning
    assert [e for e, _, _ in events] == ["quota_warning"]

    ManifestBlob.objects.filter(repository=app, blob__size=6000).delete()
    with django_capture_on_commit_callbacks(execute=True):
        namespace_usage_recompute(namespace_id=acme.namespace_id)
        push(app, "v3", [os.urandom(5500)])  # crosses again

    assert [e for e, _, _ in events] == ["quota_warning", "quota_warning"]
