"""The pull path of a proxy-cache organization through the real /v2 views (Django test client,
real database and storage) against a real Distribution upstream: first pulls fetch and store,
later pulls are local, the upstream being down or changed after expiry, refused writes, pull
permissions and eviction under the quota."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from organizations.models import Team
from organizations.services import team_member_add, team_upsert
from repositories.models import Manifest, ProxyCachedTag, ProxyPendingManifest, Repository, Tag
from repositories.selectors import blob_find_in_repository
from repositories.selectors_usage import namespace_usage
from repositories.services.quotas import quota_create, quota_limit_create
from tests.api.conftest import PASSWORD
from tests.factories import digest_of
from tests.mirror.conftest import OCI_MANIFEST, make_image
from tests.proxy.conftest import make_proxy_org

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def open_registry(settings):
    settings.MOORAGE_REGISTRY = {**settings.MOORAGE_REGISTRY, "open": True}


def pull(client: Client, name: str, reference: str, **headers: str):
    return client.get(f"/v2/{name}/manifests/{reference}", HTTP_ACCEPT=OCI_MANIFEST, **headers)


def pull_blob(client: Client, name: str, digest: str, **headers: str) -> bytes:
    response = client.get(f"/v2/{name}/blobs/{digest}", **headers)
    assert response.status_code == 200, getattr(response, "content", b"")
    return b"".join(response.streaming_content) if response.streaming else response.content


def pull_image(client: Client, name: str, tag: str, **headers: str) -> tuple[bytes, list[bytes]]:
    response = pull(client, name, tag, **headers)
    assert response.status_code == 200, response.content
    manifest = json.loads(response.content)
    blobs = [pull_blob(client, name, d["digest"], **headers) for d in (manifest["config"], *manifest["layers"])]
    return response.content, blobs


def expire_all() -> None:
    """Make every cached tag's last upstream check older than any expiry (and forget the shared
    HEAD answers), as if the expiry had passed."""
    ProxyCachedTag.objects.update(checked_at=timezone.now() - timedelta(days=400))
    cache.clear()


@pytest.mark.usefixtures("open_registry")
def test_a_first_pull_fetches_the_manifest_and_streams_each_blob_into_storage(upstream):
    image = upstream.push_image("lib/app", "v1", make_image("first", layer_bytes=300_000))
    make_proxy_org("cache", f"127.0.0.1:{upstream.port}/lib")
    client = Client()

    response = pull(client, "cache/app", "v1")

    assert response.status_code == 200
    assert response.content == image.manifest and response["Docker-Content-Digest"] == image.digest
    repository = Repository.objects.get(full_name="cache/app")  # created by the first pull, as Quay
    assert ProxyPendingManifest.objects.filter(repository=repository, digest=image.digest).exists()
    assert not Manifest.objects.filter(repository=repository).exists()
    head = client.head(f"/v2/cache/app/blobs/{digest_of(image.blobs[1])}")
    assert head.status_code == 200 and head["Content-Length"] == str(len(image.blobs[1]))

    blobs = [pull_blob(client, "cache/app", digest_of(blob)) for blob in image.blobs]

    assert blobs == image.blobs
    stored = Manifest.objects.get(repository=repository, digest=image.digest)  # all blobs in: stored for real
    assert Tag.objects.get(repository=repository, name="v1", lifetime_end__isnull=True).manifest == stored
    assert not ProxyPendingManifest.objects.filter(repository=repository).exists()


@pytest.mark.usefixtures("open_registry")
def test_cached_content_is_served_when_the_upstream_is_down_and_an_uncached_tag_fails_clearly(upstream):
    image = upstream.push_image("lib/app", "v1", make_image("down"))
    make_proxy_org("cache", f"127.0.0.1:{upstream.port}/lib")
    client = Client()
    pull_image(client, "cache/app", "v1")
    upstream.stop()
    expire_all()  # the cache must ask the upstream, which is gone

    manifest, blobs = pull_image(client, "cache/app", "v1")
    by_digest = pull(client, "cache/app", image.digest)
    uncached = pull(client, "cache/app", "v2")

    assert manifest == image.manifest and blobs == image.blobs
    assert by_digest.status_code == 200 and by_digest.content == image.manifest
    assert uncached.status_code == 404  # a 4xx: clients show its message
    error = uncached.json()["errors"][0]
    assert error["code"] == "MANIFEST_UNKNOWN"
    assert "cache/app:v2 is not cached" in error["message"] and f"127.0.0.1:{upstream.port}/lib" in error["message"]


@pytest.mark.usefixtures("open_registry")
def test_a_tag_is_revalidated_after_expiry_and_the_new_upstream_digest_served(upstream):
    old = upstream.push_image("lib/app", "v1", make_image("old"))
    make_proxy_org("cache", f"127.0.0.1:{upstream.port}/lib")
    client = Client()
    pull_image(client, "cache/app", "v1")
    new = upstream.push_image("lib/app", "v1", make_image("new"))
    cache.clear()

    within_expiry = pull(client, "cache/app", "v1")
    expire_all()
    after_expiry = pull(client, "cache/app", "v1")
    _manifest, blobs = pull_image(client, "cache/app", "v1")

    assert within_expiry["Docker-Content-Digest"] == old.digest  # served locally, upstream not asked
    assert after_expiry["Docker-Content-Digest"] == new.digest and after_expiry.content == new.manifest
    assert blobs == new.blobs
    assert Tag.objects.get(repository__full_name="cache/app", name="v1", lifetime_end__isnull=True).manifest.digest == new.digest


@pytest.mark.usefixtures("open_registry")
def test_a_tag_gone_upstream_is_manifest_unknown(upstream):
    make_proxy_org("cache", f"127.0.0.1:{upstream.port}/lib")

    response = pull(Client(), "cache/app", "nope")

    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    assert "does not exist on the upstream registry" in response.json()["errors"][0]["message"]


@pytest.mark.usefixtures("open_registry")
def test_pushes_deletes_and_uploads_into_a_proxy_organization_are_refused(upstream):
    image = upstream.push_image("lib/app", "v1", make_image("refuse"))
    make_proxy_org("cache", f"127.0.0.1:{upstream.port}/lib")
    client = Client()
    pull_image(client, "cache/app", "v1")

    upload_new = client.post("/v2/cache/other/blobs/uploads/", data=b"", content_type="application/octet-stream")
    manifest_put = client.put("/v2/cache/app/manifests/v2", data=image.manifest, content_type=OCI_MANIFEST)
    delete = client.delete(f"/v2/cache/app/manifests/{image.digest}")

    for response in (upload_new, manifest_put, delete):
        assert response.status_code == 403, response.content
        error = response.json()["errors"][0]
        assert error["code"] == "DENIED"
        assert f"organization cache is a pull-through cache of 127.0.0.1:{upstream.port}/lib" in error["message"]
    assert not Repository.objects.filter(full_name="cache/other").exists()
    assert Manifest.objects.filter(repository__full_name="cache/app", digest=image.digest, deleted_at__isnull=True).exists()


def _basic(user: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()}


def test_members_of_the_organization_may_pull_others_and_anonymous_may_not(upstream, alice, bob, root):
    image = upstream.push_image("lib/app", "v1", make_image("auth"))
    org, _config = make_proxy_org("cache", f"127.0.0.1:{upstream.port}/lib", creator=root)
    team = team_upsert(organization=org, name="readers", role=Team.TeamRole.MEMBER, description="")
    team_member_add(team=team, user=alice)
    client = Client()

    anonymous = pull(client, "cache/app", "v1")
    outsider = pull(client, "cache/app", "v1", **_basic("bob"))
    assert not Repository.objects.filter(full_name="cache/app").exists()  # nothing fetched for them
    member = pull(client, "cache/app", "v1", **_basic("alice"))
    outsider_later = pull(client, "cache/app", "v1", **_basic("bob"))
    member_push = client.put("/v2/cache/app/manifests/v2", data=image.manifest, content_type=OCI_MANIFEST, **_basic("alice"))

    assert anonymous.status_code == 401
    assert outsider.status_code in (401, 403) and outsider_later.status_code in (401, 403)
    assert member.status_code == 200 and member.content == image.manifest
    assert member_push.status_code == 403 and "pull-through cache" in member_push.json()["errors"][0]["message"]


@pytest.mark.usefixtures("open_registry")
def test_an_htpasswd_upstream_is_pulled_with_the_stored_credentials(basic_upstream):
    image = basic_upstream.push_image("lib/app", "v1", make_image("basic"))
    make_proxy_org("cache", f"127.0.0.1:{basic_upstream.port}/lib", username="puller", password="pull-secret")

    manifest, blobs = pull_image(Client(), "cache/app", "v1")

    assert manifest == image.manifest and blobs == image.blobs


@pytest.mark.usefixtures("open_registry")
def test_wrong_upstream_credentials_fail_an_uncached_pull_clearly(basic_upstream):
    basic_upstream.push_image("lib/app", "v1", make_image("basic-wrong"))
    make_proxy_org("cache", f"127.0.0.1:{basic_upstream.port}/lib", username="puller", password="wrong")

    response = pull(Client(), "cache/app", "v1")

    assert response.status_code == 404
    assert "is not cached and the upstream registry" in response.json()["errors"][0]["message"]


@pytest.mark.usefixtures("open_registry")
def test_a_fill_past_the_quota_evicts_the_least_recently_pulled_tags(upstream, settings):
    settings.MOORAGE = {**settings.MOORAGE, "quotas": {**settings.MOORAGE["quotas"], "enforce": True}}
    images = {tag: upstream.push_image("lib/app", tag, make_image(f"quota-{tag}", layer_bytes=40_000)) for tag in ("a", "b", "c")}
    org, _config = make_proxy_org("cache", f"127.0.0.1:{upstream.port}/lib")
    quota = quota_create(namespace=org.namespace, limit_bytes=100_000)  # room for two images, not three
    quota_limit_create(quota=quota, limit_type="Reject", threshold_percent=100)
    client = Client()
    pull_image(client, "cache/app", "a")
    pull_image(client, "cache/app", "b")
    ProxyCachedTag.objects.filter(name="b").update(pulled_at=timezone.now() - timedelta(hours=2))  # b: least recently pulled
    ProxyCachedTag.objects.filter(name="a").update(pulled_at=timezone.now() - timedelta(hours=1))

    manifest, blobs = pull_image(client, "cache/app", "c")

    assert manifest == images["c"].manifest and blobs == images["c"].blobs
    live = set(Tag.objects.filter(repository__full_name="cache/app", lifetime_end__isnull=True).values_list("name", flat=True))
    assert live == {"a", "c"}
    assert set(ProxyCachedTag.objects.values_list("name", flat=True)) == {"a", "c"}
    assert not Manifest.objects.filter(digest=images["b"].digest).exists()
    assert namespace_usage(namespace_id=org.namespace_id).size_bytes <= 100_000


@pytest.mark.usefixtures("open_registry")
def test_an_upstream_head_answer_is_shared_for_a_few_seconds_so_a_pull_storm_asks_once(upstream):
    old = upstream.push_image("lib/app", "v1", make_image("storm-old"))
    make_proxy_org("cache", f"127.0.0.1:{upstream.port}/lib")
    client = Client()
    pull_image(client, "cache/app", "v1")
    new = upstream.push_image("lib/app", "v1", make_image("storm-new"))
    ProxyCachedTag.objects.update(checked_at=timezone.now() - timedelta(days=400))  # expired, HEAD answer still cached

    storm = [pull(client, "cache/app", "v1")["Docker-Content-Digest"] for _ in range(5)]
    expire_all()  # expired again, and the shared answer ran out
    after = pull(client, "cache/app", "v1")["Docker-Content-Digest"]

    assert storm == [old.digest] * 5  # answered from the shared HEAD result: the upstream was not asked
    assert after == new.digest


def test_a_member_pulls_with_a_bearer_token_from_the_token_endpoint_before_the_repository_exists(upstream, alice, bob, root):
    image = upstream.push_image("lib/app", "v1", make_image("bearer"))
    org, _config = make_proxy_org("cache", f"127.0.0.1:{upstream.port}/lib", creator=root)
    team_member_add(team=team_upsert(organization=org, name="readers", role=Team.TeamRole.MEMBER, description=""), user=alice)
    client = Client()

    def token(user: str) -> str:
        response = client.get("/v2/auth", {"scope": "repository:cache/app:pull,push"}, **_basic(user))
        assert response.status_code == 200, response.content
        return response.json()["token"]

    member = pull(client, "cache/app", "v1", HTTP_AUTHORIZATION=f"Bearer {token('alice')}")
    outsider = pull(client, "cache/app", "v1", HTTP_AUTHORIZATION=f"Bearer {token('bob')}")
    push = client.post("/v2/cache/app/blobs/uploads/", data=b"", content_type="application/octet-stream", HTTP_AUTHORIZATION=f"Bearer {token('alice')}")

    assert member.status_code == 200 and member.content == image.manifest
    assert outsider.status_code in (401, 403)
    assert push.status_code == 403 and "pull-through cache" in push.json()["errors"][0]["message"]


@pytest.mark.usefixtures("open_registry")
def test_a_blob_the_upstream_corrupted_is_never_stored_under_its_digest(upstream):
    image = upstream.push_image("lib/app", "v1", make_image("corrupt", layer_bytes=50_000))
    layer = image.blobs[1]
    digest = digest_of(layer)
    hexdigest = digest.split(":", 1)[1]
    stored = upstream.root / "data" / "docker" / "registry" / "v2" / "blobs" / "sha256" / hexdigest[:2] / hexdigest / "data"
    stored.write_bytes(bytes(b ^ 0xFF for b in layer))  # same size, other content
    make_proxy_org("cache", f"127.0.0.1:{upstream.port}/lib")
    client = Client()
    assert pull(client, "cache/app", "v1").status_code == 200

    served = pull_blob(client, "cache/app", digest)

    assert served != layer  # passed through as the upstream sent it: the client's digest check fails
    repository = Repository.objects.get(full_name="cache/app")
    assert blob_find_in_repository(repository=repository, digest=digest) is None
    assert ProxyPendingManifest.objects.filter(repository=repository, digest=image.digest).exists()
    stored.write_bytes(layer)  # the upstream repaired: the next pull stores it
    assert pull_blob(client, "cache/app", digest) == layer
    assert blob_find_in_repository(repository=repository, digest=digest) is not None
