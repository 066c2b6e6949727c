"""Cached /v2 lookups (repositories/lookup_cache.py): the query budget of a manifest lookup, and
that every write which changes an answer is seen by the very next request."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.principals import ANONYMOUS
from accounts.services import user_create
from repositories.lookup_cache import manifest_resolve_cached, repository_find_cached, repository_lookups_invalidate
from repositories.services.gc import gc_run
from repositories.services.repositories import repository_delete

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
PASSWORD = "lookup-cache-secret-1"

pytestmark = pytest.mark.django_db


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Registry:
    """The in-process /v2 API with a real bearer token from /v2/auth."""

    def __init__(self, client: Client, name: str) -> None:
        self.client = client
        self.name = name
        self.auth_basic = basic = "Basic " + base64.b64encode(f"cacher:{PASSWORD}".encode()).decode()
        response = client.get("/v2/auth", {"service": "testserver", "scope": f"repository:{name}:pull,push,delete"}, HTTP_AUTHORIZATION=basic)
        assert response.status_code == 200, response.content
        self.auth = {"HTTP_AUTHORIZATION": f"Bearer {response.json()['token']}"}

    def push_image(self, reference: str) -> str:
        config = json.dumps({"os": "linux", "n": uuid.uuid4().hex}).encode()
        layer = uuid.uuid4().bytes * 4
        for blob in (config, layer):
            response = self.client.post(
                f"/v2/{self.name}/blobs/uploads/?digest={digest_of(blob)}", data=blob, content_type="application/octet-stream", **self.auth
            )
            assert response.status_code == 201, response.content
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest_of(config), "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest_of(layer), "size": len(layer)}],
        }).encode()
        response = self.client.put(f"/v2/{self.name}/manifests/{reference}", data=manifest, content_type=OCI_MANIFEST, **self.auth)
        assert response.status_code == 201, response.content
        return response["Docker-Content-Digest"]

    def get(self, reference: str):
        return self.client.get(f"/v2/{self.name}/manifests/{reference}", HTTP_ACCEPT=OCI_MANIFEST, **self.auth)

    def head(self, reference: str):
        return self.client.head(f"/v2/{self.name}/manifests/{reference}", HTTP_ACCEPT=OCI_MANIFEST, **self.auth)

    def delete(self, reference: str):
        return self.client.delete(f"/v2/{self.name}/manifests/{reference}", **self.auth)

    def served_digest(self, reference: str) -> str | None:
        """The digest a GET serves twice in a row (the second from the cache), None for a 404."""
        first, second = self.get(reference), self.get(reference)
        assert first.status_code == second.status_code
        if first.status_code == 404:
            return None
        assert first.status_code == 200, first.content
        assert first["Docker-Content-Digest"] == second["Docker-Content-Digest"] == digest_of(second.content)
        return second["Docker-Content-Digest"]


@pytest.fixture
def registry() -> Registry:
    user_create(username="cacher", password=PASSWORD)
    return Registry(Client(), f"cacher/app-{uuid.uuid4().hex[:8]}")


def test_a_cold_manifest_lookup_runs_at_most_two_queries_and_a_warm_one_none(registry, django_assert_max_num_queries, django_assert_num_queries):
    digest = registry.push_image("v1")
    repository_lookups_invalidate(repository_id=repository_find_cached(name=registry.name).pk)
    for reference in ("v1", digest):
        with django_assert_max_num_queries(2):
            cold = manifest_resolve_cached(repository=repository_find_cached(name=registry.name), reference=reference)
        with django_assert_num_queries(0):
            warm = manifest_resolve_cached(repository=repository_find_cached(name=registry.name), reference=reference)
        assert cold.digest == warm.digest == digest
        assert bytes(warm.content) == bytes(cold.content)


def test_a_warm_manifest_head_by_tag_reads_neither_the_repository_nor_the_tag(registry):
    digest = registry.push_image("v1")
    assert registry.head("v1").status_code == 200  # warms the cache
    with CaptureQueriesContext(connection) as queries:
        response = registry.head("v1")
    assert response.status_code == 200
    assert response["Docker-Content-Digest"] == digest
    tables = " ".join(q["sql"] for q in queries.captured_queries)
    assert '"repositories_repository"' not in tables
    assert '"repositories_tag"' not in tables
    assert '"repositories_manifest"' not in tables


def test_moving_a_tag_is_served_at_once(registry):
    first = registry.push_image("latest")
    assert registry.served_digest("latest") == first
    second = registry.push_image("latest")
    assert second != first
    assert registry.served_digest("latest") == second


def test_deleting_a_tag_is_served_at_once(registry):
    registry.push_image("gone")
    assert registry.served_digest("gone") is not None
    assert registry.delete("gone").status_code == 202
    assert registry.served_digest("gone") is None


def test_deleting_a_manifest_removes_it_and_its_tags_at_once(registry):
    digest = registry.push_image("v1")
    assert registry.served_digest(digest) == digest
    assert registry.served_digest("v1") == digest
    assert registry.delete(digest).status_code == 202
    assert registry.served_digest(digest) is None
    assert registry.served_digest("v1") is None


def test_a_manifest_collected_by_gc_is_not_served_from_the_cache(registry):
    digest = registry.push_image("temporary")
    assert registry.delete("temporary").status_code == 202  # untagged: collectable
    assert registry.served_digest(digest) == digest  # still there by digest, now cached
    report = gc_run(immediate=True)
    assert f"{repository_find_cached(name=registry.name).pk}:{digest}" in report.deleted_manifests
    assert registry.served_digest(digest) is None


def test_a_deleted_repository_is_not_served_from_the_cache(registry):
    registry.push_image("v1")
    assert registry.served_digest("v1") is not None
    repository_delete(repository=repository_find_cached(name=registry.name), actor=ANONYMOUS)
    assert repository_find_cached(name=registry.name) is None
    assert registry.get("v1").status_code == 404


def test_a_warm_blob_head_runs_no_query(registry, django_assert_num_queries):
    registry.push_image("v1")
    manifest = json.loads(registry.get("v1").content)
    layer = manifest["layers"][0]["digest"]
    path = f"/v2/{registry.name}/blobs/{layer}"
    assert registry.client.head(path, **registry.auth).status_code == 200  # warms the cache and holds the blob
    with CaptureQueriesContext(connection) as queries:
        response = registry.client.head(path, **registry.auth)
    assert response.status_code == 200
    assert response["Docker-Content-Digest"] == layer
    tables = " ".join(q["sql"] for q in queries.captured_queries)
    for table in ("repositories_blob", "repositories_manifestblob", "repositories_uploadedblob", "repositories_repository"):
        assert f'"{table}"' not in tables


def test_an_unlinked_blob_is_unknown_at_once(registry):
    data = uuid.uuid4().bytes * 16
    digest = digest_of(data)
    response = registry.client.post(
        f"/v2/{registry.name}/blobs/uploads/?digest={digest}", data=data, content_type="application/octet-stream", **registry.auth
    )
    assert response.status_code == 201
    path = f"/v2/{registry.name}/blobs/{digest}"
    assert registry.client.head(path, **registry.auth).status_code == 200
    assert registry.client.head(path, **registry.auth).status_code == 200
    assert registry.client.delete(path, **registry.auth).status_code == 202
    assert registry.client.head(path, **registry.auth).status_code == 404
    assert registry.client.get(path, **registry.auth).status_code == 404


def test_a_blob_collected_by_gc_is_unknown_at_once(registry):
    data = uuid.uuid4().bytes * 16
    digest = digest_of(data)
    registry.client.post(f"/v2/{registry.name}/blobs/uploads/?digest={digest}", data=data, content_type="application/octet-stream", **registry.auth)
    path = f"/v2/{registry.name}/blobs/{digest}"
    assert registry.client.head(path, **registry.auth).status_code == 200  # cached, and held
    report = gc_run(immediate=True)
    assert digest in report.deleted_blobs
    assert registry.client.head(path, **registry.auth).status_code == 404


def test_an_organization_made_a_proxy_cache_is_seen_at_once(django_assert_num_queries):
    from organizations.services import organization_create
    from repositories.models.proxy import ProxyCacheConfig
    from repositories.services.proxy import proxy_config_for_namespace

    org = organization_create(name=f"org{uuid.uuid4().hex[:8]}", creator=user_create(username="proxyowner", password=PASSWORD))
    assert proxy_config_for_namespace(namespace_name=org.namespace.name) is None
    with django_assert_num_queries(0):  # "not a proxy cache" is remembered
        assert proxy_config_for_namespace(namespace_name=org.namespace.name) is None
    config = ProxyCacheConfig.objects.create(organization=org, upstream_registry="registry.example.com")  # no upstream check wanted here
    found = proxy_config_for_namespace(namespace_name=org.namespace.name)
    assert found is not None and found.pk == config.pk


# -- cache round trips of a warm request (issue 11) ----------------------------------------------
class CacheCalls:
    """Counts the calls made on the cache backend (one Redis round trip each; ``get_many`` is one
    MGET), not the calls a backend makes on itself (the file cache's ``get_many`` calls ``get``)."""

    METHODS = ("get", "get_many", "set", "set_many", "add", "delete", "delete_many", "incr", "decr", "touch", "has_key")

    def __init__(self, monkeypatch) -> None:
        from django.core.cache import caches

        self.calls: list[str] = []
        self._depth = 0
        backend = caches["default"]
        for method in self.METHODS:
            monkeypatch.setattr(backend, method, self._counted(method, getattr(backend, method)))

    def _counted(self, method, original):
        def counted(*args, **kwargs):
            if self._depth == 0:
                self.calls.append(method)
            self._depth += 1
            try:
                return original(*args, **kwargs)
            finally:
                self._depth -= 1

        return counted

    def during(self, request):
        self.calls.clear()
        response = request()
        return response, list(self.calls)


def test_a_warm_manifest_head_and_get_make_one_cache_round_trip(registry, monkeypatch):
    digest = registry.push_image("v1")
    registry.head("v1"), registry.head(digest)  # warm
    calls = CacheCalls(monkeypatch)
    for reference in ("v1", digest):
        for request in (registry.head, registry.get):
            response, made = calls.during(lambda: request(reference))
            assert response.status_code == 200 and response["Docker-Content-Digest"] == digest
            assert made == ["get_many"], (request.__name__, reference, made)


def test_a_warm_blob_head_makes_one_cache_round_trip(registry, monkeypatch):
    registry.push_image("v1")
    layer = json.loads(registry.get("v1").content)["layers"][0]["digest"]
    path = f"/v2/{registry.name}/blobs/{layer}"
    assert registry.client.head(path, **registry.auth).status_code == 200  # warms the lookup and holds the blob
    response, made = CacheCalls(monkeypatch).during(lambda: registry.client.head(path, **registry.auth))
    assert response.status_code == 200 and response["Docker-Content-Digest"] == layer
    assert made == ["get_many"]


def test_a_repository_recreated_under_the_same_name_is_served_despite_this_process_id_hint(registry):
    from repositories import lookup_cache

    old = registry.push_image("v1")
    old_id = repository_find_cached(name=registry.name).pk
    assert registry.served_digest("v1") == old
    assert lookup_cache._id_hints[registry.name] == old_id
    repository_delete(repository=repository_find_cached(name=registry.name), actor=ANONYMOUS)
    assert registry.get("v1").status_code == 404
    new = registry.push_image("v1")
    assert new != old
    assert registry.served_digest("v1") == new
    assert lookup_cache._id_hints[registry.name] != old_id


def test_a_wrong_id_hint_never_serves_another_repository(registry):
    """The hint only names keys: a hint pointing at another repository's id costs a round trip."""
    from repositories import lookup_cache

    digest = registry.push_image("v1")
    other = Registry(registry.client, f"cacher/other-{uuid.uuid4().hex[:8]}")
    other_digest = other.push_image("v1")
    assert registry.served_digest("v1") == digest and other.served_digest("v1") == other_digest
    lookup_cache._id_hints[registry.name] = repository_find_cached(name=other.name).pk
    lookup = lookup_cache.manifest_lookup_cached(name=registry.name, reference="v1")
    assert lookup.repository.full_name == registry.name and lookup.manifest.digest == digest
    assert registry.served_digest("v1") == digest


def test_a_tag_moved_is_served_at_once_through_the_one_round_trip_lookup(registry, monkeypatch):
    first = registry.push_image("latest")
    assert registry.served_digest("latest") == first
    calls = CacheCalls(monkeypatch)
    second = registry.push_image("latest")
    response, made = calls.during(lambda: registry.head("latest"))
    assert response["Docker-Content-Digest"] == second
    assert made[0] == "get_many" and len(made) > 1  # the cached answer was refused, then read again
    assert registry.served_digest("latest") == second


def test_the_proxy_answer_in_the_one_round_trip_lookup_follows_its_invalidation():
    from organizations.services import organization_create
    from repositories.lookup_cache import manifest_lookup_cached
    from repositories.models.proxy import ProxyCacheConfig
    from repositories.services.proxy import proxy_config_for_namespace

    org = organization_create(name=f"org{uuid.uuid4().hex[:8]}", creator=user_create(username="proxyowner", password=PASSWORD))
    name = f"{org.namespace.name}/app"
    assert manifest_lookup_cached(name=name, reference="v1").not_a_proxy is False  # not known yet
    assert proxy_config_for_namespace(namespace_name=org.namespace.name) is None
    assert manifest_lookup_cached(name=name, reference="v1").not_a_proxy is True
    ProxyCacheConfig.objects.create(organization=org, upstream_registry="registry.example.com")
    assert manifest_lookup_cached(name=name, reference="v1").not_a_proxy is False


def test_the_one_round_trip_lookups_fall_back_to_the_database_when_redis_does_not_answer(registry, settings):
    from django.test import override_settings

    from repositories.lookup_cache import BlobLookup, ManifestLookup, blob_lookup_cached, manifest_lookup_cached

    digest = registry.push_image("v1")
    layer = json.loads(registry.get("v1").content)["layers"][0]["digest"]
    path = f"/v2/{registry.name}/blobs/{layer}"
    assert registry.client.head(path, **registry.auth).status_code == 200
    unreachable = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}}
    with override_settings(CACHES=unreachable):
        assert manifest_lookup_cached(name=registry.name, reference="v1") == ManifestLookup()
        assert blob_lookup_cached(name=registry.name, digest=layer) == BlobLookup()
        assert registry.head("v1")["Docker-Content-Digest"] == digest
        assert registry.client.head(path, **registry.auth).status_code == 200
