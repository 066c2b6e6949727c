"""``manage.py fsck`` on filesystem storage with real corruption: deleted, truncated and
bit-flipped blob files, dropped link rows, a deleted child manifest, skewed usage totals, broken
tag rows and upload sessions whose state is gone. Each is found, repaired when that is safe, and
never repaired by deleting referenced content."""

from __future__ import annotations

import json
import shutil
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from repositories.models import Blob, BlobPlacement, BlobUpload, Manifest, ManifestBlob, ManifestChild, Tag, UploadedBlob
from repositories.models.lifecycle import NamespaceUsage, RepositoryUsage
from repositories.services import fsck
from repositories.services.fsck import registry_fsck
from repositories.services.quotas import namespace_usage_recompute
from repositories.services.uploads import blob_upload_append, blob_upload_start
from storagebackends.paths import upload_path
from tests.factories import RepositoryFactory, digest_of
from tests.fsck.conftest import push_image
from tests.repositories.helpers import body

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args: str) -> tuple[dict, bool, str]:
    """``manage.py fsck --json``: (report, exited zero, stderr)."""
    out, err = StringIO(), StringIO()
    try:
        call_command("fsck", "--json", *args, stdout=out, stderr=err)
        ok = True
    except CommandError:
        ok = False
    return json.loads(out.getvalue()), ok, err.getvalue()


def kinds(report: dict) -> set[tuple[str, str]]:
    return {(p["kind"], p["subject"]) for p in report["problems"]}


def flip_byte(path, offset: int = 100) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


# -- a clean registry ------------------------------------------------------------------------------
def test_a_freshly_pushed_registry_is_clean(pushed):
    report, ok, progress = run()

    assert ok, report["problems"]
    assert report["clean"] and report["problems"] == []
    assert report["counts"]["manifests"] == 3
    assert report["counts"]["blobs"] == len(pushed.blobs)
    assert report["counts"]["child_references"] == 2
    assert report["counts"]["bytes_read"] == sum(len(data) for data in pushed.blobs.values())
    assert "manifests" in progress and "blobs" in progress


def test_the_text_summary_says_clean_and_exits_zero(pushed):
    out = StringIO()
    call_command("fsck", stdout=out, stderr=StringIO())

    text = out.getvalue()
    assert "Manifests checked" in text and "Clean: no problems found." in text


# -- storage corruption ----------------------------------------------------------------------------
def test_a_deleted_a_truncated_and_a_bit_flipped_blob_are_found(pushed):
    deleted, truncated, flipped = pushed.layer(0), pushed.layer(1), pushed.layer(2)
    pushed.path(deleted).unlink()
    pushed.path(truncated).write_bytes(pushed.blobs[truncated][:-10])
    flip_byte(pushed.path(flipped))

    report, ok, _ = run()

    assert not ok
    assert kinds(report) == {
        ("placement_missing", f"{deleted} @ one"),
        ("placement_wrong_size", f"{truncated} @ one"),
        ("placement_wrong_digest", f"{flipped} @ one"),
    }
    assert report["problems_by_kind"] == {"placement_missing": 1, "placement_wrong_digest": 1, "placement_wrong_size": 1}


def test_quick_mode_skips_rehashing_so_a_flipped_byte_goes_unnoticed(pushed):
    flip_byte(pushed.path(pushed.layer(0)))
    pushed.path(pushed.layer(1)).unlink()

    report, ok, _ = run("--quick")

    assert not ok
    assert kinds(report) == {("placement_missing", f"{pushed.layer(1)} @ one")}
    assert report["counts"]["bytes_read"] == 0


def test_repair_recopies_deleted_truncated_and_flipped_copies_from_the_good_location(replicated):
    deleted, truncated, flipped = replicated.layer(0), replicated.layer(1), replicated.layer(2)
    replicated.path(deleted).unlink()
    replicated.path(truncated, "two").write_bytes(b"short")
    flip_byte(replicated.path(flipped))

    report, ok, _ = run("--repair")

    assert ok, report["problems"]
    assert report["fixed"] == 3 and report["unresolved"] == 0
    assert all(p["action"] == "fixed" and "copied from" in p["action_detail"] for p in report["problems"])
    assert replicated.path(deleted).read_bytes() == replicated.blobs[deleted]
    assert replicated.path(truncated, "two").read_bytes() == replicated.blobs[truncated]
    assert replicated.path(flipped).read_bytes() == replicated.blobs[flipped]
    assert run()[1]  # and a second run is clean


def test_repair_keeps_the_only_record_of_a_blob_whose_bytes_are_lost(pushed):
    lost = pushed.layer(0)
    pushed.path(lost).unlink()

    report, ok, _ = run("--repair")

    assert not ok
    (problem,) = report["problems"]
    assert problem["kind"] == "placement_missing" and problem["action"] == "not fixed"
    assert BlobPlacement.objects.filter(blob__digest=lost, location="one").exists()
    assert Manifest.objects.filter(digest=pushed.images[0], deleted_at__isnull=True).exists()


def test_a_blob_with_no_placement_at_all_is_reported(pushed):
    lost = pushed.layer(0)
    BlobPlacement.objects.filter(blob__digest=lost).delete()

    report, ok, _ = run("--repair")

    assert not ok
    assert kinds(report) == {("blob_without_placement", lost)}
    assert Blob.objects.filter(digest=lost).exists()


def test_a_whole_storage_folder_lost_is_every_blob_missing(pushed):
    shutil.rmtree(pushed.roots["one"] / "blobs")

    report, ok, _ = run()

    assert not ok
    assert report["problems_by_kind"] == {"placement_missing": len(pushed.blobs)}


# -- database corruption ---------------------------------------------------------------------------
def test_a_dropped_child_manifest_link_is_found_and_recreated(pushed):
    child = pushed.images[1]
    ManifestChild.objects.filter(manifest__digest=pushed.index, child__digest=child).delete()

    report, ok, _ = run()
    assert not ok
    assert kinds(report) == {("child_link_missing", child)}

    report, ok, _ = run("--repair")
    assert ok and report["fixed"] == 1
    assert ManifestChild.objects.filter(manifest__digest=pushed.index, child__digest=child).exists()


def test_an_index_whose_child_manifest_was_deleted_is_reported_not_repaired(pushed):
    child = pushed.images[0]
    Tag.objects.filter(manifest__digest=child).update(lifetime_end=timezone.now())
    Manifest.objects.filter(digest=child).update(deleted_at=timezone.now())

    report, ok, _ = run("--repair")

    assert not ok
    assert kinds(report) == {("child_manifest_missing", child)}
    assert report["problems"][0]["action"] == "not fixed"
    assert ManifestChild.objects.filter(manifest__digest=pushed.index, child__digest=child).exists()


def test_an_index_child_gone_with_its_link_is_missing_outside_a_mirror(pushed):
    child = pushed.images[1]
    ManifestChild.objects.filter(child__digest=child).delete()
    Tag.objects.filter(manifest__digest=child).delete()
    Manifest.objects.filter(digest=child).delete()

    report, ok, _ = run()

    assert not ok
    assert ("child_manifest_missing", child) in kinds(report)


def test_a_dropped_blob_link_is_found_and_recreated(pushed):
    layer = pushed.layer(0)
    ManifestBlob.objects.filter(manifest__digest=pushed.images[0], blob__digest=layer).delete()

    report, ok, _ = run("--repair")

    assert ok, report["problems"]
    assert kinds(report) == {("blob_link_missing", layer)}
    assert ManifestBlob.objects.filter(manifest__digest=pushed.images[0], blob__digest=layer).exists()


def test_a_manifest_referencing_a_blob_row_that_is_gone_is_reported(pushed):
    layer = pushed.layer(1)
    ManifestBlob.objects.filter(blob__digest=layer).delete()
    UploadedBlob.objects.filter(blob__digest=layer).delete()
    BlobPlacement.objects.filter(blob__digest=layer).delete()
    Blob.objects.filter(digest=layer).delete()

    report, ok, _ = run("--repair")

    assert not ok
    assert ("blob_missing", layer) in kinds(report)


def test_stored_manifest_bytes_that_changed_are_a_digest_mismatch(pushed):
    manifest = Manifest.objects.get(digest=pushed.images[0])
    Manifest.objects.filter(pk=manifest.pk).update(content=bytes(manifest.content).replace(b"schemaVersion", b"schemaversion"))

    report, ok, _ = run()

    assert not ok
    assert {p["kind"] for p in report["problems"]} == {"manifest_digest_mismatch", "manifest_unparseable"}


# -- usage -----------------------------------------------------------------------------------------
def test_skewed_usage_totals_are_found_and_recomputed(pushed):
    namespace_id = pushed.repository.namespace_id
    actual = namespace_usage_recompute(namespace_id=namespace_id)
    assert actual == sum(len(data) for data in pushed.blobs.values())
    NamespaceUsage.objects.filter(namespace_id=namespace_id).update(size_bytes=actual + 12345)
    RepositoryUsage.objects.filter(repository=pushed.repository).update(size_bytes=7)

    report, ok, _ = run()
    assert not ok
    assert {p["kind"] for p in report["problems"]} == {"namespace_usage_mismatch", "repository_usage_mismatch"}

    report, ok, _ = run("--repair")
    assert ok and report["fixed"] == 2
    assert NamespaceUsage.objects.get(namespace_id=namespace_id).size_bytes == actual
    assert RepositoryUsage.objects.get(repository=pushed.repository).size_bytes == actual


# -- tags ------------------------------------------------------------------------------------------
def test_a_tag_pointing_into_another_repository_is_reported(pushed):
    other = RepositoryFactory()
    _raw, _ = push_image(other, "elsewhere", sizes=(100,))
    Tag.objects.filter(repository=pushed.repository, name="v2").update(manifest=Manifest.objects.get(repository=other))

    report, ok, _ = run()

    assert not ok
    assert kinds(report) == {("tag_cross_repository", f"{pushed.repository.full_name}:v2")}


def test_a_live_tag_on_a_deleted_manifest_and_a_malformed_tag_are_reported(pushed):
    Manifest.objects.filter(digest=pushed.index).update(deleted_at=timezone.now())
    Tag.objects.filter(repository=pushed.repository, name="v1").update(immutable=True, expires_at=timezone.now())

    report, ok, _ = run("--repair")

    assert not ok
    name = pushed.repository.full_name
    assert kinds(report) == {("tag_points_to_deleted_manifest", f"{name}:multi"), ("tag_malformed", f"{name}:v1")}
    assert Tag.objects.filter(repository=pushed.repository, name="multi", lifetime_end__isnull=True).exists()


# -- uploads ---------------------------------------------------------------------------------------
def test_an_upload_session_whose_state_is_gone_is_forgotten_on_repair(pushed):
    healthy = blob_upload_append(upload=blob_upload_start(repository=pushed.repository), body=body(b"x" * 100))
    broken = blob_upload_start(repository=pushed.repository)
    (pushed.roots["one"] / upload_path(broken.id)).unlink()

    report, ok, _ = run()
    assert not ok
    assert kinds(report) == {("upload_state_missing", broken.id)}

    report, ok, _ = run("--repair")
    assert ok
    assert not BlobUpload.objects.filter(id=broken.id).exists()
    assert BlobUpload.objects.filter(id=healthy.id).exists()


# -- scope -----------------------------------------------------------------------------------------
def test_repository_option_limits_the_check_to_one_repository(pushed):
    other = RepositoryFactory()
    _raw, blobs = push_image(other, "v1", sizes=(2000,))
    pushed.path(pushed.layer(0)).unlink()

    report, ok, _ = run("--repository", other.full_name)
    assert ok and report["counts"]["manifests"] == 1 and report["counts"]["blobs"] == len(blobs)

    report, ok, _ = run("--repository", pushed.repository.full_name)
    assert not ok and report["counts"]["manifests"] == 3


def test_an_unknown_repository_is_a_command_error(pushed):
    with pytest.raises(CommandError, match="no repository named"):
        call_command("fsck", "--repository", "nope/nothing", stdout=StringIO(), stderr=StringIO())


def test_the_service_returns_a_frozen_report(pushed):
    report = registry_fsck()

    assert report.clean and report.counts["manifests"] == 3
    with pytest.raises(AttributeError):
        report.problems = ()  # type: ignore[misc]
    assert set(fsck.KINDS) >= set(report.by_kind())


def test_a_deleted_manifest_is_not_checked(pushed):
    Tag.objects.filter(manifest__digest=pushed.index).delete()
    Manifest.objects.filter(digest=pushed.index).update(deleted_at=timezone.now(), content=b"garbage")

    report, ok, _ = run()

    assert ok, report["problems"]
    assert report["counts"]["manifests"] == 2
    assert connection.vendor in ("sqlite", "postgresql")
    assert digest_of(b"garbage") not in json.dumps(report)
