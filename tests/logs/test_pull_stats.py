"""Pull statistics: real GETs through the /v2 manifest view (Django test client), counted per tag
and per manifest, flushed into rows, shown by Quay's pull_statistics endpoints and the admin.

Each test runs twice: counting straight into the database (no Redis) and buffered in Redis with a
flush (only when MOORAGE_REDIS_URL is set, as in the PostgreSQL+Redis run)."""

from __future__ import annotations

import base64
import os
import time

import pytest
from django.test import Client
from django.utils import timezone

from repositories.media_types import OCI_MANIFEST
from repositories.models import ManifestPullStatistic, TagPullStatistic
from repositories.services import pull_stats
from repositories.services.manifests import manifest_put
from repositories.services.repositories import repository_get_or_create
from tasks.stats import flush_pulls
from tests.api.conftest import PASSWORD, make_user
from tests.factories import digest_of, image_manifest, index_manifest
from tests.repositories.helpers import push_blob

pytestmark = pytest.mark.django_db

CONFIG = b'{"architecture": "amd64", "os": "linux", "config": {}}'
LAYER = b"pull statistics layer" * 50


@pytest.fixture(params=["database", "redis"])
def mode(request, settings, unique):
    if request.param == "redis":
        url = os.environ.get("MOORAGE_REDIS_URL")
        if not url:
            pytest.skip("the Redis buffer is tested when MOORAGE_REDIS_URL is set (the PostgreSQL+Redis run)")
        settings.REDIS_URL = url
        settings.MOORAGE = {**settings.MOORAGE, "redis": {**settings.MOORAGE["redis"], "key_prefix": f"test-pullstats-{unique}"}}
    else:
        settings.REDIS_URL = None
    yield request.param
    client = pull_stats.redis_client()
    if client is not None:
        for key in client.scan_iter(match=f"test-pullstats-{unique}:*"):
            client.delete(key)


@pytest.fixture
def image(storage, unique, mode):
    """``<user>/app:latest`` pushed through the real services; the owner's /v2 Basic credentials."""
    user = make_user(f"puller{unique}")
    repository = repository_get_or_create(name=f"{user.username}/app")
    for data in (CONFIG, LAYER):
        push_blob(repository=repository, data=data)
    raw = image_manifest(config=CONFIG, layers=[LAYER])
    manifest_put(repository=repository, reference="latest", raw=raw, content_type=OCI_MANIFEST)
    auth = "Basic " + base64.b64encode(f"{user.username}:{PASSWORD}".encode()).decode()
    return {"repository": repository, "user": user, "digest": digest_of(raw), "raw": raw, "auth": auth}


def pull(image, reference: str, method: str = "get") -> None:
    response = getattr(Client(), method)(
        f"/v2/{image['repository'].full_name}/manifests/{reference}", HTTP_AUTHORIZATION=image["auth"], HTTP_ACCEPT=OCI_MANIFEST
    )
    assert response.status_code == 200, response.content


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def counts(image) -> tuple[int | None, int | None]:
    tag = TagPullStatistic.objects.filter(repository=image["repository"], tag_name="latest").first()
    manifest = ManifestPullStatistic.objects.filter(repository=image["repository"], manifest_digest=image["digest"]).first()
    return (tag.pull_count if tag else None, manifest.pull_count if manifest else None)


def test_pulls_by_tag_and_by_digest_are_counted_after_the_flush(image, mode):
    before = timezone.now().replace(microsecond=0)
    for _ in range(3):
        pull(image, "latest")
    for _ in range(2):
        pull(image, image["digest"])
    pull(image, "latest", method="head")  # HEAD checks, it does not pull

    if mode == "redis":
        assert counts(image) == (None, None)  # still buffered: no database write on the pull path
    flushed = flush_pulls()

    assert counts(image) == (3, 5)
    tag = TagPullStatistic.objects.get(repository=image["repository"], tag_name="latest")
    assert before <= tag.last_pulled <= timezone.now()
    if mode == "redis":
        assert flushed == {"tags": 1, "manifests": 1, "pulls": 5}
    assert flush_pulls() == {"tags": 0, "manifests": 0, "pulls": 0}  # a second flush adds nothing
    assert counts(image) == (3, 5)


def test_counts_accumulate_over_flushes(image, mode):
    pull(image, "latest")
    flush_pulls()
    pull(image, "latest")
    pull(image, image["digest"])
    flush_pulls()

    assert counts(image) == (2, 3)


def test_an_index_pulled_by_a_client_that_cannot_read_it_counts_the_child_it_got(image, mode):
    repository = image["repository"]
    index = index_manifest(image["raw"])
    manifest_put(repository=repository, reference="multi", raw=index, content_type="application/vnd.oci.image.index.v1+json")

    pull(image, "multi")  # Accept: image manifest only -> the linux/amd64 child is served
    flush_pulls()

    assert TagPullStatistic.objects.get(repository=repository, tag_name="multi").pull_count == 1
    assert ManifestPullStatistic.objects.get(repository=repository, manifest_digest=image["digest"]).pull_count == 1
    assert not ManifestPullStatistic.objects.filter(manifest_digest=digest_of(index)).exists()


def test_the_pull_statistics_endpoints(image, mode):
    for _ in range(2):
        pull(image, "latest")
    pull(image, image["digest"])
    api = signed_in(image["user"])
    base = f"/api/v1/repository/{image['repository'].full_name}"

    # with Redis the endpoints add what is still buffered: right before any flush
    tag = api.get(f"{base}/tag/latest/pull_statistics")
    manifest = api.get(f"{base}/manifest/{image['digest']}/pull_statistics")

    assert tag.status_code == 200, tag.content
    body = tag.json()
    assert (body["tag_name"], body["tag_pull_count"], body["current_manifest_digest"], body["manifest_pull_count"]) == ("latest", 2, image["digest"], 3)
    assert body["last_tag_pull_date"].endswith("-0000") and body["last_manifest_pull_date"]
    assert manifest.json() == {"manifest_digest": image["digest"], "manifest_pull_count": 3, "last_manifest_pull_date": body["last_manifest_pull_date"]}
    flush_pulls()
    assert api.get(f"{base}/tag/latest/pull_statistics").json()["tag_pull_count"] == 2  # not counted twice


def test_the_endpoints_answer_404_for_unknown_tags_and_strangers(image, mode, unique):
    api = signed_in(image["user"])
    base = f"/api/v1/repository/{image['repository'].full_name}"
    stranger = signed_in(make_user(f"stranger{unique}"))

    assert api.get(f"{base}/tag/nosuchtag/pull_statistics").status_code == 404
    assert api.get(f"{base}/manifest/sha256:{'0' * 64}/pull_statistics").status_code == 404
    assert stranger.get(f"{base}/tag/latest/pull_statistics").status_code == 404  # private repository: not revealed
    assert Client().get(f"{base}/tag/latest/pull_statistics").status_code in (401, 404)
    never = api.get(f"{base}/tag/latest/pull_statistics").json()
    assert (never["tag_pull_count"], never["last_tag_pull_date"]) == (0, None)


def test_statistics_are_off_when_configured(image, mode, settings):
    settings.MOORAGE = {**settings.MOORAGE, "logs": {**settings.MOORAGE["logs"], "pull_statistics": False}}

    pull(image, "latest")
    flush_pulls()

    assert counts(image) == (None, None)


def test_a_flush_that_died_is_taken_over_later(image, mode):
    if mode != "redis":
        pytest.skip("only the Redis buffer is flushed")
    client = pull_stats.redis_client()
    pull(image, "latest")
    # a flush renamed the buffer aside, then its process died before writing the rows
    dead = pull_stats._key(f"flushing:{int(time.time()) - 3600}:deadbeef")
    client.rename(pull_stats.buffer_key(), dead)
    pull(image, "latest")

    flush_pulls()

    assert counts(image) == (2, 2)
    assert not client.exists(dead)


def test_the_admin_lists_statistics_and_archives_read_only(image, mode, unique):
    pull(image, "latest")
    flush_pulls()
    root = make_user(f"root{unique}", is_superuser=True)
    admin = Client()
    admin.force_login(root)

    page = admin.get("/admin/repositories/tagpullstatistic/")
    assert page.status_code == 200 and b"latest" in page.content
    assert admin.get("/admin/repositories/manifestpullstatistic/").status_code == 200
    assert admin.get("/admin/repositories/auditlogarchive/").status_code == 200
    assert admin.get("/admin/repositories/logexport/").status_code == 200
    row = TagPullStatistic.objects.get(repository=image["repository"])
    detail = admin.get(f"/admin/repositories/tagpullstatistic/{row.pk}/change/")
    assert detail.status_code == 200 and b'name="_save"' not in detail.content  # nothing to save
    assert admin.post(f"/admin/repositories/tagpullstatistic/{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert TagPullStatistic.objects.filter(pk=row.pk).exists()
