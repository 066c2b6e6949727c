"""``manage.py storage_verify [--repair]`` over a filesystem and an S3 location: deleted, corrupted and
truncated copies are found and repaired, and a blob's last record is never dropped silently."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from repositories.services.storage import blobs_replicate_missing, placements_verify
from storagebackends.paths import blob_path
from tests.storage_ops.helpers import placements_of, push_image

pytestmark = pytest.mark.django_db(transaction=True)


def verify(*args: str) -> tuple[dict, bool]:
    """Run the command with --json: (report, whether it exited zero)."""
    out = StringIO()
    try:
        call_command("storage_verify", "--json", *args, stdout=out, stderr=StringIO())
        ok = True
    except CommandError:
        ok = False
    return json.loads(out.getvalue()), ok


@pytest.fixture
def replicated(locations, repository) -> dict[str, bytes]:
    _, blobs = push_image(repository, "v1", layer_sizes=(70_000, 5000))
    blobs_replicate_missing()
    assert all(placements_of(digest) == {"local", "s3"} for digest in blobs)
    return dict(sorted(blobs.items(), key=lambda item: len(item[1])))


def test_a_healthy_registry_verifies_clean(locations, replicated):
    report, ok = verify()

    assert ok
    assert report["placements_checked"] == report["placements_ok"] == 2 * len(replicated)
    assert report["bytes_read"] == 2 * sum(len(data) for data in replicated.values())
    assert report["problems"] == []


def test_verify_finds_a_deleted_a_corrupted_and_a_truncated_copy(locations, replicated):
    (config, _), (small, small_data), (large, large_data) = replicated.items()
    (locations.root / blob_path(small)).unlink()
    locations.s3_put(large, bytes(len(large_data)))  # right size, wrong bytes
    (locations.root / blob_path(config)).write_bytes(b"{}")

    report, ok = verify()

    assert not ok
    found = {(p["digest"], p["location"], p["problem"]) for p in report["problems"]}
    assert found == {(small, "local", "missing"), (large, "s3", "wrong digest"), (config, "local", "wrong size")}
    assert all(p["action"] == "" for p in report["problems"])
    assert locations.fs_bytes(small) is None  # verifying alone changes nothing


def test_repair_copies_the_bad_copies_again_from_the_good_location(locations, replicated):
    (config, config_data), (small, small_data), (large, large_data) = replicated.items()
    (locations.root / blob_path(small)).unlink()
    locations.s3_put(large, bytes(len(large_data)))
    (locations.root / blob_path(config)).write_bytes(b"{}")

    report, ok = verify("--repair")

    assert ok
    assert {(p["digest"], p["action"]) for p in report["problems"]} == {(small, "repaired"), (large, "repaired"), (config, "repaired")}
    assert locations.fs_bytes(small) == small_data
    assert locations.s3_bytes(large) == large_data
    assert locations.fs_bytes(config) == config_data
    again, ok = verify()
    assert ok and again["problems"] == []


def test_only_the_named_location_is_checked(locations, replicated):
    (_, _), (small, _), (large, large_data) = replicated.items()
    (locations.root / blob_path(small)).unlink()
    locations.s3_put(large, bytes(len(large_data)))

    report, ok = verify("--location", "s3")

    assert not ok
    assert report["placements_checked"] == len(replicated)
    assert [(p["digest"], p["location"]) for p in report["problems"]] == [(large, "s3")]


def test_the_last_copy_of_a_blob_keeps_its_record_and_is_reported_as_lost(locations, repository):
    _, blobs = push_image(repository, "v1")  # on the filesystem only
    digest, data = max(blobs.items(), key=lambda item: len(item[1]))
    (locations.root / blob_path(digest)).write_bytes(bytes(len(data)))
    err = StringIO()

    with pytest.raises(CommandError, match="1 placement problem\\(s\\) remain"):
        call_command("storage_verify", "--repair", stdout=StringIO(), stderr=err)

    assert placements_of(digest) == {"local"}
    assert "no good copy of this blob exists anywhere" in err.getvalue()


def test_a_copy_that_cannot_be_repaired_loses_its_record_only_while_a_good_one_remains(locations, replicated):
    (_, _), (_, _), (large, large_data) = replicated.items()
    broken = locations.root / blob_path(large)
    broken.unlink()
    broken.mkdir()  # a folder where the copy should be: every write of it fails

    report = placements_verify(repair=True)

    [problem] = report.problems
    assert (problem.digest, problem.location, problem.action) == (large, "local", "removed")
    assert "good copies remain in s3" in problem.action_detail
    assert placements_of(large) == {"s3"}
    assert not report.unresolved


def test_an_unreachable_location_is_reported_and_left_alone(locations, replicated):
    locations.configure(("local", "s3"), s3_down=True)

    report = placements_verify(repair=True)

    assert {p.problem for p in report.problems} == {"unreachable"}
    assert {p.location for p in report.problems} == {"s3"}
    assert all(p.action == "kept" for p in report.problems)
    assert all(placements_of(digest) == {"local", "s3"} for digest in replicated)


def test_verify_prints_progress_and_a_summary(locations, replicated):
    out, err = StringIO(), StringIO()

    call_command("storage_verify", stdout=out, stderr=err)

    assert f"placements {2 * len(replicated):>9,} / {2 * len(replicated)}" in err.getvalue()
    assert "Every placement is good." in out.getvalue()
