"""Repository mirroring against a real upstream (Debian's docker-registry = CNCF Distribution):
first sync, idempotent second sync, changed and deleted tags, tag patterns, architecture filter,
Basic auth, failures, cancellation and the single-sync claim."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.utils import timezone

from common.errors import ConflictError
from repositories.models import BlobUpload, Manifest, Repository, RepositoryPermission, Tag
from repositories.models.mirror import MirrorStatus, RepositoryMirror
from repositories.selectors import manifest_find
from repositories.services.mirror import MirrorSettings, mirror_create, mirror_sync, mirrors_queue_due, secret_decrypt
from repositories.services.uploads import BodyStream, blob_upload_complete, blob_upload_start
from tasks import mirror as mirror_tasks
from repositories.signals import registry_event
from tests.factories import RepositoryFactory, digest_of, image_manifest
from tests.mirror.conftest import OCI_INDEX, OCI_MANIFEST, Image, configure, make_image

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live]


def pull(repository: str, reference: str, accept: str = f"{OCI_MANIFEST}, {OCI_INDEX}") -> tuple[int, bytes, dict]:
    """GET through our own /v2 API (an open registry: the test pulls as anyone)."""
    with override_settings(MOORAGE_REGISTRY={**settings.MOORAGE_REGISTRY, "open": True}):
        response = Client().get(f"/v2/{repository}/manifests/{reference}", HTTP_ACCEPT=accept)
    return response.status_code, response.content, response.headers


def pull_blob(repository: str, digest: str) -> bytes:
    with override_settings(MOORAGE_REGISTRY={**settings.MOORAGE_REGISTRY, "open": True}):
        response = Client().get(f"/v2/{repository}/blobs/{digest}")
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content) if response.streaming else response.content


def live_tags(repository: Repository) -> dict[str, str]:
    return dict(Tag.objects.filter(repository=repository, lifetime_end__isnull=True).values_list("name", "manifest__digest"))


@pytest.fixture
def events():
    seen: list[tuple[str, dict]] = []

    def receiver(sender, event, payload, **kwargs):
        seen.append((event, payload))

    registry_event.connect(receiver, dispatch_uid="mirror-test-events")
    yield seen
    registry_event.disconnect(dispatch_uid="mirror-test-events")


def test_the_first_sync_copies_every_tag_and_pulls_back_byte_identical(setup, upstream, events):
    v1 = upstream.push_image("lib/app", "v1", make_image("one", layer_bytes=2_500_000))  # several 1 MiB chunks
    v2 = upstream.push_image("lib/app", "v2", make_image("two"))
    upstream.push_image("lib/app", "latest", v2)
    mirror = configure(setup, upstream.reference("lib/app"))

    result = mirror_sync(mirror_id=mirror.pk)

    assert result.status == "SUCCESS", result.errors
    assert live_tags(setup.repository) == {"v1": v1.digest, "v2": v2.digest, "latest": v2.digest}
    for image in (v1, v2):
        status, body, headers = pull("acme/app", image.digest)
        assert (status, body, headers["Docker-Content-Digest"]) == (200, image.manifest, image.digest)
        for blob in image.blobs:
            assert pull_blob("acme/app", digest_of(blob)) == blob
    assert result.counts["tags_copied"] == 3 and result.counts["manifests_copied"] == 2  # latest = v2: tagged, not fetched again
    assert result.counts["blobs_copied"] == 6 and result.counts["bytes_copied"] == sum(len(b) for b in v1.blobs + v2.blobs)
    mirror.refresh_from_db()
    assert (mirror.status, mirror.last_error, mirror.sync_token) == (MirrorStatus.SUCCESS, "", "")
    assert mirror.next_sync_at > timezone.now() + timedelta(minutes=59)
    assert [e for e, _ in events] == ["repo_mirror_sync_started", "repo_mirror_sync_success"]
    assert events[1][1]["repository"] == "acme/app" and "3 tag(s) copied" in events[1][1]["message"]
    assert not BlobUpload.objects.exists()  # every upload completed
    assert Tag.objects.get(repository=setup.repository, name="v1", lifetime_end__isnull=True) is not None


def test_a_second_sync_with_nothing_changed_transfers_nothing(setup, upstream):
    upstream.push_image("lib/app", "v1", make_image("one"))
    upstream.push_image("lib/app", "v2", make_image("two"))
    mirror = configure(setup, upstream.reference("lib/app"))
    assert mirror_sync(mirror_id=mirror.pk).status == "SUCCESS"
    manifests_before = Manifest.objects.count()

    second = mirror_sync(mirror_id=mirror.pk)

    assert second.status == "SUCCESS"
    assert second.counts["tags_unchanged"] == 2
    assert (second.counts["tags_copied"], second.counts["manifests_copied"], second.counts["blobs_copied"]) == (0, 0, 0)
    # one tags/list and one HEAD per tag: no manifest or blob was downloaded
    assert second.upstream_requests.get("manifest_get", 0) == 0 and second.upstream_requests.get("blob_get", 0) == 0
    assert second.upstream_requests["manifest_head"] == 2
    assert Manifest.objects.count() == manifests_before


def test_a_changed_upstream_tag_is_copied_again_and_only_its_new_blobs(setup, upstream):
    old = upstream.push_image("lib/app", "v1", make_image("old"))
    upstream.push_image("lib/app", "stable", make_image("stable"))
    mirror = configure(setup, upstream.reference("lib/app"))
    mirror_sync(mirror_id=mirror.pk)
    new = make_image("new")
    new.blobs[1] = old.blobs[1]  # shares the big layer with the old image
    new.manifest = image_manifest(config=new.blobs[0], layers=new.blobs[1:])
    upstream.push_image("lib/app", "v1", new)

    result = mirror_sync(mirror_id=mirror.pk)

    assert result.status == "SUCCESS"
    assert live_tags(setup.repository)["v1"] == new.digest
    assert (result.counts["tags_copied"], result.counts["tags_unchanged"]) == (1, 1)
    assert result.counts["blobs_copied"] == 2 and result.counts["blobs_present"] == 1  # config and small layer; big one kept
    history = Tag.objects.filter(repository=setup.repository, name="v1").order_by("lifetime_start")
    assert [t.manifest.digest for t in history] == [old.digest, new.digest]  # the time machine keeps the old one


def test_tag_patterns_choose_which_tags_are_mirrored(setup, upstream):
    image = make_image("x")
    for tag in ("v1.0", "v1.1", "v2.0", "latest", "dev-7"):
        upstream.push_image("lib/app", tag, image)
    mirror = configure(setup, upstream.reference("lib/app"), tag_patterns="v1.*, latest")

    result = mirror_sync(mirror_id=mirror.pk)

    assert set(live_tags(setup.repository)) == {"v1.0", "v1.1", "latest"}
    assert result.counts["tags_matched"] == 3


def test_an_architecture_filter_keeps_the_index_byte_for_byte_but_copies_only_that_platform(setup, upstream):
    amd, arm = make_image("amd", architecture="amd64"), make_image("arm", architecture="arm64")
    index = upstream.push_index("lib/multi", "v1", amd, arm)
    mirror = configure(setup, upstream.reference("lib/multi"), architecture_filter=["arm64"])

    result = mirror_sync(mirror_id=mirror.pk)

    assert result.status == "SUCCESS", result.errors
    status, body, _ = pull("acme/app", "v1")
    assert (status, body) == (200, index)
    assert manifest_find(repository=setup.repository, digest=arm.digest) is not None
    assert manifest_find(repository=setup.repository, digest=amd.digest) is None  # sparse
    assert pull("acme/app", amd.digest)[0] == 404
    assert result.counts["manifests_copied"] == 2 and result.counts["blobs_copied"] == 3


def test_tags_gone_upstream_are_removed_only_when_asked(setup, upstream):
    keep, gone = upstream.push_image("lib/app", "keep", make_image("keep")), upstream.push_image("lib/app", "gone", make_image("gone"))
    mirror = configure(setup, upstream.reference("lib/app"))
    mirror_sync(mirror_id=mirror.pk)
    upstream.delete_manifest("lib/app", gone.digest)

    mirror_sync(mirror_id=mirror.pk)
    assert set(live_tags(setup.repository)) == {"keep", "gone"}  # not asked: kept

    RepositoryMirror.objects.filter(pk=mirror.pk).update(delete_stale_tags=True)
    result = mirror_sync(mirror_id=mirror.pk)

    assert live_tags(setup.repository) == {"keep": keep.digest}
    assert result.counts["tags_deleted"] == 1


def test_basic_auth_credentials_are_stored_encrypted_and_used(setup, basic_upstream):
    image = basic_upstream.push_image("lib/app", "v1", make_image("basic"))
    mirror = configure(setup, basic_upstream.reference("lib/app"), username="puller", password="pull-secret", credentials_given=True)

    result = mirror_sync(mirror_id=mirror.pk)

    assert result.status == "SUCCESS", result.errors
    assert live_tags(setup.repository) == {"v1": image.digest}
    stored = RepositoryMirror.objects.get(pk=mirror.pk)
    assert "pull-secret" not in stored.password_encrypted and secret_decrypt(stored.password_encrypted) == "pull-secret"


def test_wrong_credentials_fail_the_sync_with_the_upstream_refusal(setup, basic_upstream):
    basic_upstream.push_image("lib/app", "v1", make_image("basic"))
    mirror = configure(setup, basic_upstream.reference("lib/app"), username="puller", password="wrong", credentials_given=True)

    result = mirror_sync(mirror_id=mirror.pk)

    assert result.status == "FAIL"
    mirror.refresh_from_db()
    assert "credentials" in mirror.last_error or "refused" in mirror.last_error
    assert not live_tags(setup.repository)


def test_an_upstream_that_is_down_fails_the_sync_records_the_error_and_schedules_a_retry(setup, upstream, events):
    reference = upstream.reference("lib/app")
    mirror = configure(setup, reference)
    upstream.stop()

    result = mirror_sync(mirror_id=mirror.pk)

    assert result.status == "FAIL"
    mirror.refresh_from_db()
    assert mirror.status == MirrorStatus.FAIL and "unreachable" in mirror.last_error
    assert timezone.now() + timedelta(seconds=250) < mirror.next_sync_at <= timezone.now() + timedelta(seconds=300)
    assert mirror.retries_remaining == 2
    assert [e for e, _ in events] == ["repo_mirror_sync_started", "repo_mirror_sync_failed"]
    assert "unreachable" in events[1][1]["message"]


def test_a_cancel_stops_the_sync_before_its_next_item(setup, upstream):
    for tag in ("a", "b", "c"):
        upstream.push_image("lib/app", tag, make_image(tag))
    mirror = configure(setup, upstream.reference("lib/app"))

    def cancel_after_first_tag(line: str) -> None:
        if line.strip().startswith("a: copied"):
            RepositoryMirror.objects.filter(pk=mirror.pk).update(cancel_requested=True)  # what sync-cancel does

    result = mirror_sync(mirror_id=mirror.pk, progress=cancel_after_first_tag)

    assert result.status == "CANCEL"
    assert set(live_tags(setup.repository)) == {"a"}
    mirror.refresh_from_db()
    assert (mirror.status, mirror.cancel_requested, mirror.sync_token) == (MirrorStatus.CANCEL, False, "")


def test_a_second_sync_of_one_mirror_is_refused_while_the_first_holds_its_claim(setup, upstream):
    upstream.push_image("lib/app", "v1", make_image("one"))
    mirror = configure(setup, upstream.reference("lib/app"))
    RepositoryMirror.objects.filter(pk=mirror.pk).update(status=MirrorStatus.SYNCING, sync_token="other", sync_expires_at=timezone.now() + timedelta(minutes=5))

    with pytest.raises(ConflictError, match="already running"):
        mirror_sync(mirror_id=mirror.pk)
    assert mirror_sync(mirror_id=mirror.pk, scheduled=True) is None

    # a claim whose lease ran out (its worker died) is taken over
    RepositoryMirror.objects.filter(pk=mirror.pk).update(sync_expires_at=timezone.now() - timedelta(seconds=1))
    assert mirror_sync(mirror_id=mirror.pk).status == "SUCCESS"


def test_the_scheduler_queues_a_due_mirror_once_and_the_queued_sync_runs_once(setup, upstream):
    upstream.push_image("lib/app", "v1", make_image("one"))
    mirror = configure(setup, upstream.reference("lib/app"))

    assert mirrors_queue_due() == [mirror.pk]
    assert mirrors_queue_due() == []  # already queued

    assert mirror_sync(mirror_id=mirror.pk, scheduled=True).status == "SUCCESS"
    assert mirror_sync(mirror_id=mirror.pk, scheduled=True) is None  # a duplicate message is a no-op
    assert mirrors_queue_due() == []  # next one is an hour away


def test_a_disabled_mirror_or_a_repository_out_of_mirror_state_is_not_synced(setup, upstream):
    mirror = configure(setup, upstream.reference("lib/app"))
    Repository.objects.filter(pk=setup.repository.pk).update(state=Repository.State.NORMAL)

    assert mirrors_queue_due() == []
    with pytest.raises(ConflictError, match="not in MIRROR state"):
        mirror_sync(mirror_id=mirror.pk)


def test_the_mirror_robot_gets_write_and_the_repository_becomes_a_mirror(setup, upstream):
    configure(setup, upstream.reference("lib/app"))

    setup.repository.refresh_from_db()
    assert setup.repository.state == Repository.State.MIRROR
    assert RepositoryPermission.objects.get(repository=setup.repository, robot=setup.robot).role == "write"


def test_blobs_the_robot_can_read_in_another_repository_are_mounted_not_downloaded(setup, upstream):
    image = upstream.push_image("lib/app", "v1", make_image("shared"))
    first = configure(setup, upstream.reference("lib/app"))
    mirror_sync(mirror_id=first.pk)
    other = RepositoryFactory(namespace=setup.org.namespace, name="other")
    second = mirror_create(
        repository=other,
        values=MirrorSettings(external_reference=upstream.reference("lib/app"), sync_interval=3600, sync_start_date=timezone.now(), tag_patterns=["*"], robot=setup.robot),
    )

    result = mirror_sync(mirror_id=second.pk)

    assert (result.counts["blobs_mounted"], result.counts["blobs_copied"]) == (3, 0)
    assert live_tags(other) == {"v1": image.digest}


def test_blobs_only_in_repositories_the_robot_cannot_read_are_downloaded(setup, upstream, bob):
    image = upstream.push_image("lib/app", "v1", make_image("private"))
    secret = RepositoryFactory(namespace=bob.namespace, name="secret")  # private, bob's
    for blob in image.blobs:
        upload = blob_upload_start(repository=secret)
        blob_upload_complete(upload=upload, digest=digest_of(blob), body=BodyStream(chunks=[blob], declared_length=len(blob)))
    mirror = configure(setup, upstream.reference("lib/app"))

    result = mirror_sync(mirror_id=mirror.pk)

    assert (result.counts["blobs_mounted"], result.counts["blobs_copied"]) == (0, 3)  # verified from upstream, not linked


def test_the_periodic_task_queues_due_mirrors_and_the_sync_task_runs_them(setup, upstream):
    upstream.push_image("lib/app", "v1", make_image("task"))
    mirror = configure(setup, upstream.reference("lib/app"))

    assert mirror_tasks.schedule_due() == 1
    assert mirror_tasks.schedule_due() == 0
    assert mirror_tasks.sync(mirror.pk) == "SUCCESS"
    assert mirror_tasks.sync(mirror.pk) is None
    assert set(live_tags(setup.repository)) == {"v1"}


def test_docker_schema_2_manifests_and_lists_are_mirrored_with_their_media_types(setup, upstream):
    docker_manifest, docker_list = "application/vnd.docker.distribution.manifest.v2+json", "application/vnd.docker.distribution.manifest.list.v2+json"
    config, layer = b'{"architecture":"amd64","os":"linux"}', b"docker layer bytes"
    raw = json.dumps({
        "schemaVersion": 2, "mediaType": docker_manifest,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(config), "digest": digest_of(config)},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": len(layer), "digest": digest_of(layer)}],
    }).encode()
    image = upstream.push_image("lib/docker", None, Image(manifest=raw, blobs=[config, layer], media_type=docker_manifest))
    listing = json.dumps({
        "schemaVersion": 2, "mediaType": docker_list,
        "manifests": [{"mediaType": docker_manifest, "size": len(raw), "digest": image.digest, "platform": {"architecture": "amd64", "os": "linux"}}],
    }).encode()
    upstream.push_manifest("lib/docker", "v1", listing, docker_list)
    mirror = configure(setup, upstream.reference("lib/docker"))

    result = mirror_sync(mirror_id=mirror.pk)

    assert result.status == "SUCCESS", result.errors
    status, body, headers = pull("acme/app", "v1", accept=f"{docker_list}, {docker_manifest}")
    assert (status, body, headers["Content-Type"]) == (200, listing, docker_list)
    assert Manifest.objects.get(repository=setup.repository, digest=image.digest).media_type == docker_manifest
