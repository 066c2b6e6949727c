"""Garbage collection through the real push services, real database and real filesystem storage:
what goes, what stays, and what a run reports."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from repositories.media_types import OCI_INDEX, OCI_MANIFEST
from repositories.models import AuditLog, Blob, BlobPlacement, GcRun, Manifest, Tag, UploadedBlob
from repositories.services.gc import gc_run
from repositories.services.manifests import manifest_delete, manifest_put
from repositories.services.tags import tag_restore
from storagebackends.paths import blob_path
from tests.factories import RepositoryFactory, digest_of, image_manifest, index_manifest
from tests.repositories.helpers import files_under, push_blob

pytestmark = pytest.mark.django_db(transaction=True)

LATER = timedelta(days=1)  # past the one-hour grace period


def push_image(repository, tag: str | None, *, layers: tuple[bytes, ...], config: bytes | None = None, subject: bytes | None = None) -> str:
    config = config or b'{"architecture":"amd64","os":"linux","layers":"%s"}' % b",".join(layers)
    for data in (config, *layers):
        push_blob(repository=repository, data=data)
    raw = image_manifest(config=config, layers=layers)
    if subject is not None:
        body = json.loads(raw)
        body["subject"] = {"mediaType": OCI_MANIFEST, "digest": digest_of(subject), "size": len(subject)}
        raw = json.dumps(body).encode()
    result = manifest_put(repository=repository, reference=tag or digest_of(raw), raw=raw, content_type=OCI_MANIFEST)
    return result.manifest.digest


def raw_of(repository, digest: str) -> bytes:
    return bytes(Manifest.objects.get(repository=repository, digest=digest).content)


def age_everything(by: timedelta) -> None:
    """Make every row look ``by`` older (instead of sleeping through the grace period)."""
    for model, field in ((Blob, "created"), (Manifest, "created")):
        for row in model.objects.all():
            model.objects.filter(pk=row.pk).update(**{field: getattr(row, field) - by})
    for tag in Tag.objects.exclude(lifetime_end=None):
        Tag.objects.filter(pk=tag.pk).update(lifetime_end=tag.lifetime_end - by)
    for link in UploadedBlob.objects.all():
        UploadedBlob.objects.filter(pk=link.pk).update(expires_at=link.expires_at - by)


def blob_file_exists(storage_root, data: bytes) -> bool:
    return (storage_root / blob_path(digest_of(data))).exists()


@pytest.fixture
def repository(storage):
    return RepositoryFactory(name="gc", namespace__name="acme")


def test_a_tagged_image_survives_and_an_untagged_one_goes_with_its_own_blobs(repository, storage_root):
    push_image(repository, "keep", layers=(b"shared layer", b"kept layer"))
    gone = push_image(repository, "move", layers=(b"shared layer", b"doomed layer"))
    push_image(repository, "move", layers=(b"new layer",))  # the tag moves away from ``gone``
    repository.namespace.tag_expiration_s = 0
    repository.namespace.save()
    age_everything(LATER)

    report = gc_run()

    assert not Manifest.objects.filter(digest=gone).exists()
    assert report.manifests_deleted == 1 and report.tags_deleted == 1
    assert not blob_file_exists(storage_root, b"doomed layer")
    assert not Blob.objects.filter(digest=digest_of(b"doomed layer")).exists()
    for kept in (b"shared layer", b"kept layer", b"new layer"):
        assert blob_file_exists(storage_root, kept)
        assert BlobPlacement.objects.filter(blob__digest=digest_of(kept)).exists()
    assert report.bytes_reclaimed >= len(b"doomed layer")
    run = GcRun.objects.get()
    assert (run.status, run.manifests_deleted, run.blobs_deleted) == ("succeeded", 1, report.blobs_deleted)
    assert AuditLog.objects.filter(kind="gc_run").exists()


def test_the_time_machine_window_keeps_an_untagged_manifest_restorable(repository, storage_root):
    first = push_image(repository, "latest", layers=(b"v1",))
    second = push_image(repository, "latest", layers=(b"v2",))
    age_everything(LATER)  # one day ago; the window is two weeks

    gc_run()
    assert Manifest.objects.filter(digest=first).exists() and blob_file_exists(storage_root, b"v1")
    tag_restore(repository=repository, name="latest", manifest_digest=first)

    age_everything(timedelta(days=15))
    gc_run()
    assert Manifest.objects.filter(digest=first).exists(), "restored: tagged again"
    assert Tag.objects.filter(repository=repository, name="latest", lifetime_end=None, manifest__digest=first).exists()
    # The v2 image's tag ended at the restore, 15 days ago: past the window, so it went.
    assert not Manifest.objects.filter(digest=second).exists()
    assert not blob_file_exists(storage_root, b"v2")


def test_a_manifest_deleted_by_digest_goes_after_the_window(repository, storage_root):
    digest = push_image(repository, "v1", layers=(b"to delete",))
    manifest_delete(repository=repository, reference=digest)
    age_everything(LATER)
    gc_run()
    assert Manifest.objects.filter(digest=digest).exists(), "inside the two-week window"
    age_everything(timedelta(days=14))
    gc_run()
    assert not Manifest.objects.filter(digest=digest).exists()
    assert not blob_file_exists(storage_root, b"to delete")


def test_nothing_younger_than_the_grace_period_is_collected(repository, storage_root):
    push_blob(repository=repository, data=b"uploaded, not referenced yet")
    digest = push_image(repository, None, layers=(b"pushed by digest",))
    report = gc_run()
    assert report.manifests_deleted == report.blobs_deleted == 0
    assert Manifest.objects.filter(digest=digest).exists()
    assert blob_file_exists(storage_root, b"uploaded, not referenced yet")

    age_everything(LATER)  # link expired, grace passed
    gc_run()
    assert not Manifest.objects.filter(digest=digest).exists()
    assert not blob_file_exists(storage_root, b"uploaded, not referenced yet")
    assert not blob_file_exists(storage_root, b"pushed by digest")


def test_an_index_keeps_its_children_and_takes_them_along_when_it_goes(repository, storage_root):
    children = []
    for arch in (b"amd64", b"arm64"):
        config = b'{"architecture":"%s","os":"linux"}' % arch
        digest = push_image(repository, None, layers=(b"layer " + arch,), config=config)
        children.append(raw_of(repository, digest))
    raw = index_manifest(*children)
    manifest_put(repository=repository, reference="multi", raw=raw, content_type=OCI_INDEX)
    age_everything(LATER)

    assert gc_run().manifests_deleted == 0, "children are kept by their tagged index"
    Tag.objects.filter(repository=repository, name="multi").delete()  # untag: no history either
    report = gc_run()
    assert report.manifests_deleted == 3, "the index, then both children in the same run"
    assert not Manifest.objects.filter(repository=repository).exists()
    assert not blob_file_exists(storage_root, b"layer amd64") and not blob_file_exists(storage_root, b"layer arm64")


def test_a_referrer_lives_with_its_subject_and_never_keeps_it_alive(repository, storage_root):
    subject_digest = push_image(repository, "app", layers=(b"app layer",))
    subject = raw_of(repository, subject_digest)
    signature = push_image(repository, None, layers=(b"signature payload",), config=b'{"sig":1}', subject=subject)
    age_everything(LATER)

    gc_run()
    assert Manifest.objects.filter(digest=signature).exists(), "untagged, but its subject is alive"

    Tag.objects.filter(repository=repository, name="app").delete()
    report = gc_run()
    assert not Manifest.objects.filter(digest=subject_digest).exists(), "the referrer did not keep it"
    assert not Manifest.objects.filter(digest=signature).exists(), "collected together with its subject"
    assert report.manifests_deleted == 2
    assert not blob_file_exists(storage_root, b"signature payload")


def test_a_blob_another_repository_uses_keeps_its_bytes(storage, storage_root):
    one = RepositoryFactory(name="one", namespace__name="acme")
    two = RepositoryFactory(name="two", namespace=one.namespace)
    push_image(one, "x", layers=(b"common",))
    push_image(two, "x", layers=(b"common",))
    Tag.objects.filter(repository=one).delete()
    age_everything(LATER)
    gc_run()
    assert not Manifest.objects.filter(repository=one).exists()
    assert blob_file_exists(storage_root, b"common")


def test_a_dry_run_deletes_nothing_and_reports_what_would_go(repository, storage_root):
    push_image(repository, None, layers=(b"orphan",))
    age_everything(LATER)
    before = (Manifest.objects.count(), Blob.objects.count(), len(files_under(storage_root)))
    report = gc_run(dry_run=True)
    assert report.manifests_deleted == 1 and report.blobs_deleted == 2  # its config and layer, exactly as a real run
    assert (Manifest.objects.count(), Blob.objects.count(), len(files_under(storage_root))) == before
    assert not GcRun.objects.exists()


def test_a_scoped_run_touches_only_its_repository(storage, storage_root):
    one = RepositoryFactory(name="one", namespace__name="acme")
    two = RepositoryFactory(name="two", namespace=one.namespace)
    kept = push_image(one, None, layers=(b"one",))
    gone = push_image(two, None, layers=(b"two",))
    age_everything(LATER)
    report = gc_run(repository=two)
    assert report.scope == "acme/two" and report.manifests_deleted == 1 and report.blobs_examined == 0
    assert Manifest.objects.filter(digest=kept).exists() and not Manifest.objects.filter(digest=gone).exists()


def test_a_location_that_fails_keeps_the_blob_row_for_the_next_run(repository, storage_root, settings):
    push_image(repository, None, layers=(b"somewhere else too",))
    blob = Blob.objects.get(digest=digest_of(b"somewhere else too"))
    BlobPlacement.objects.create(blob=blob, location="retired")  # a location no longer configured
    age_everything(LATER)
    report = gc_run()
    assert any("retired" in error for error in report.errors)
    assert Blob.objects.filter(pk=blob.pk).exists()
    assert list(BlobPlacement.objects.filter(blob=blob).values_list("location", flat=True)) == ["retired"]
    assert not blob_file_exists(storage_root, b"somewhere else too"), "the reachable copy went"
    assert GcRun.objects.get().errors


def test_the_gc_command_prints_a_report_and_json(repository, storage_root):
    push_image(repository, None, layers=(b"for the command",))
    age_everything(LATER)
    out, err = StringIO(), StringIO()
    call_command("gc", "--dry-run", stdout=out, stderr=err)
    assert "Would delete" in out.getvalue() and "Dry run: nothing was deleted." in out.getvalue()
    assert "Manifests" in out.getvalue() and "dry run" in err.getvalue()
    assert Manifest.objects.count() == 1

    out = StringIO()
    call_command("gc", "--json", "--list", stdout=out, stderr=StringIO())
    data = json.loads(out.getvalue())
    assert data["manifests_deleted"] == 1 and data["dry_run"] is False
    assert digest_of(b"for the command") in data["blobs"]
    assert not blob_file_exists(storage_root, b"for the command")

    with pytest.raises(CommandError, match="no repository named acme/missing"):
        call_command("gc", "--repository", "acme/missing", stdout=StringIO(), stderr=StringIO())


def test_now_ignores_the_grace_period_and_the_window(repository, storage_root):
    push_image(repository, "t", layers=(b"fresh",))
    push_image(repository, "t", layers=(b"fresher",))
    report = gc_run(immediate=True)
    assert report.manifests_deleted == 1 and not blob_file_exists(storage_root, b"fresh")
    assert blob_file_exists(storage_root, b"fresher")


def test_expired_tags_past_the_window_go(repository, storage_root):
    digest = push_image(repository, "temp", layers=(b"expiring",))
    Tag.objects.filter(repository=repository, name="temp").update(expires_at=timezone.now() - timedelta(days=20))
    age_everything(LATER)
    gc_run()
    assert not Tag.objects.filter(repository=repository, name="temp").exists()
    assert not Manifest.objects.filter(digest=digest).exists()


def test_a_blob_a_client_was_told_exists_survives_until_its_push(repository, storage_root, settings):
    """HEAD answered 200, so the client skips the upload: the collector must not take the blob
    between that answer and the manifest PUT, even though nothing references it any more."""
    from repositories.services.uploads import blob_hold_for_push

    push_image(repository, "app", layers=(b"base layer",))
    Tag.objects.filter(repository=repository).delete()
    age_everything(LATER)
    base = Blob.objects.get(digest=digest_of(b"base layer"))
    assert blob_hold_for_push(repository=repository, blob=base)  # what the HEAD view does

    gc_run()
    assert blob_file_exists(storage_root, b"base layer")
    config = b'{"architecture":"amd64","os":"linux","v":2}'
    push_blob(repository=repository, data=config)
    raw = image_manifest(config=config, layers=(b"base layer",))
    manifest_put(repository=repository, reference="app", raw=raw, content_type=OCI_MANIFEST)
    assert Manifest.objects.filter(digest=digest_of(raw)).exists()


def test_without_the_hold_the_push_fails_cleanly_and_stores_nothing(repository, storage_root):
    from common.errors import ManifestBlobUnknownError

    push_image(repository, "app", layers=(b"base layer",))
    Tag.objects.filter(repository=repository).delete()
    age_everything(LATER)
    gc_run()  # the blob goes: nothing references it and no client asked for it
    config = b'{"architecture":"amd64","os":"linux","v":3}'
    push_blob(repository=repository, data=config)
    raw = image_manifest(config=config, layers=(b"base layer",))
    with pytest.raises(ManifestBlobUnknownError):
        manifest_put(repository=repository, reference="app", raw=raw, content_type=OCI_MANIFEST)
    assert not Manifest.objects.filter(digest=digest_of(raw)).exists()
