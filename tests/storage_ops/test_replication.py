"""Replication between a filesystem location and an S3 location (moto on loopback): the task after
a push, the periodic sweep, ``manage.py storage_replicate``, and copies that must not be recorded."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from registry_site.celery import app as celery_app
from repositories.models import Manifest
from repositories.services.storage import GIVE_UP_AFTER, blob_replicate
from storagebackends.paths import blob_path
from tasks.storage import replicate_manifest_blobs, replicate_missing
from tests.storage_ops.helpers import blob, placements_of, push_image

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_sweep_copies_every_filesystem_blob_into_s3_and_records_it(locations, repository):
    locations.configure(("local", "s3"), replicate_to_all=True)
    _, blobs = push_image(repository, "v1")
    assert all(placements_of(digest) == {"local"} for digest in blobs)

    result = replicate_missing()

    assert result["copied"] == len(blobs) and result["failed"] == 0
    for digest, data in blobs.items():
        assert placements_of(digest) == {"local", "s3"}
        assert locations.s3_bytes(digest) == data
        assert locations.fs_bytes(digest) == data


def test_the_sweep_copies_s3_blobs_onto_the_filesystem_when_s3_is_preferred(locations, repository):
    locations.configure(("s3", "local"), replicate_to_all=True)
    _, blobs = push_image(repository, "v1", layer_sizes=(6 * 1024 * 1024 + 17,))  # more than one S3 part
    assert all(locations.fs_bytes(digest) is None for digest in blobs)

    replicate_missing()

    for digest, data in blobs.items():
        assert placements_of(digest) == {"local", "s3"}
        assert locations.fs_bytes(digest) == data


def test_the_sweep_does_nothing_while_replicate_to_all_is_off(locations, repository):
    _, blobs = push_image(repository, "v1")

    assert replicate_missing() is None
    assert all(placements_of(digest) == {"local"} and locations.s3_bytes(digest) is None for digest in blobs)


def test_a_manifest_push_queues_the_copy_of_its_blobs_when_replicate_to_all_is_on(locations, repository):
    locations.configure(("local", "s3"), replicate_to_all=True)
    celery_app.conf.task_always_eager = True  # the queued task runs here, as a worker would run it
    try:
        _, blobs = push_image(repository, "v1")
    finally:
        celery_app.conf.task_always_eager = False

    for digest, data in blobs.items():
        assert placements_of(digest) == {"local", "s3"}
        assert locations.s3_bytes(digest) == data


def test_a_manifest_push_queues_nothing_while_replicate_to_all_is_off(locations, repository):
    celery_app.conf.task_always_eager = True
    try:
        _, blobs = push_image(repository, "v1")
    finally:
        celery_app.conf.task_always_eager = False

    assert all(placements_of(digest) == {"local"} for digest in blobs)


def test_replicating_a_manifest_twice_copies_nothing_the_second_time(locations, repository):
    manifest_digest, blobs = push_image(repository, "v1")
    manifest = Manifest.objects.get(repository=repository, digest=manifest_digest)

    first = replicate_manifest_blobs(manifest.id)
    second = replicate_manifest_blobs(manifest.id)

    assert first["copied"] == len(blobs)
    assert second == {**second, "copied": 0, "failed": 0, "blobs_examined": len(blobs)}


def test_a_corrupt_source_is_reported_and_nothing_is_copied_or_recorded(locations, repository):
    _, blobs = push_image(repository, "v1")
    digest, data = max(blobs.items(), key=lambda item: len(item[1]))
    (locations.root / blob_path(digest)).write_bytes(bytes(len(data)))  # same size, other bytes

    outcomes = blob_replicate(blob=blob(digest))

    assert [(o.location, o.status) for o in outcomes] == [("s3", "failed")]
    assert "corrupt" in outcomes[0].error
    assert placements_of(digest) == {"local"}
    assert locations.s3_bytes(digest) is None


def test_a_copy_to_a_location_that_is_down_fails_without_a_record(locations, repository):
    _, blobs = push_image(repository, "v1")
    locations.configure(("local", "s3"), s3_down=True)

    outcomes = [outcome for digest in blobs for outcome in blob_replicate(blob=blob(digest))]

    assert outcomes and all(o.status == "failed" for o in outcomes)
    assert all(placements_of(digest) == {"local"} for digest in blobs)


def test_storage_replicate_dry_run_lists_the_copies_and_makes_none(locations, repository):
    _, blobs = push_image(repository, "v1")
    out = StringIO()

    call_command("storage_replicate", "--dry-run", "--json", stdout=out, stderr=StringIO())

    report = json.loads(out.getvalue())
    assert report["dry_run"] is True and report["planned"] == len(blobs) and report["copied"] == 0
    assert all(placements_of(digest) == {"local"} for digest in blobs)


def test_storage_replicate_copies_into_one_location_and_reports_progress(locations, repository):
    _, blobs = push_image(repository, "v1")
    out, err = StringIO(), StringIO()

    call_command("storage_replicate", "--location", "s3", stdout=out, stderr=err)

    assert f"blobs {len(blobs):>9,} / {len(blobs)}" in err.getvalue()
    assert "Copies made" in out.getvalue() and "Done." in out.getvalue()
    assert all(locations.s3_bytes(digest) == data for digest, data in blobs.items())


def test_storage_replicate_exits_non_zero_when_a_copy_fails(locations, repository):
    push_image(repository, "v1")
    locations.configure(("local", "s3"), s3_down=True)
    err = StringIO()

    with pytest.raises(CommandError, match="copy\\(ies\\) failed"):
        call_command("storage_replicate", stdout=StringIO(), stderr=err)
    assert "! sha256:" in err.getvalue()


def test_storage_replicate_refuses_an_unknown_location(locations):
    with pytest.raises(CommandError, match="no storage location named 'nowhere'"):
        call_command("storage_replicate", "--location", "nowhere", stdout=StringIO(), stderr=StringIO())


def test_a_sweep_gives_up_on_a_location_that_refuses_every_copy(locations, repository):
    for index in range(3):
        push_image(repository, f"v{index}", layer_sizes=(100, 200))  # 9 blobs
    locations.configure(("local", "s3"), s3_down=True, replicate_to_all=True)

    result = replicate_missing()

    assert result["blobs_examined"] == 9
    assert result["failed"] == GIVE_UP_AFTER
    assert result["skipped_locations"] == ["s3"]
