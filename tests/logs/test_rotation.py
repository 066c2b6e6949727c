"""Audit-log rotation: old entries go to gzip'd JSON-lines archives in real (filesystem) storage,
recorded, and only then leave the database; re-runs are no-ops; an interrupted or racing rotation
loses nothing and archives nothing twice."""

from __future__ import annotations

import gzip
import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import override_settings
from django.utils import timezone

from repositories.models import AuditLog, AuditLogArchive
from repositories.services import logs as logs_service
from repositories.selectors_logs import LogScope, LogWindow
from repositories.services.logs import logs_rotate, window_entries
from tasks.logs import rotate as rotate_task
from tests.logs.conftest import log_entry, logs_config

pytestmark = pytest.mark.django_db


def archived_ids(storage_root: Path) -> list[int]:
    """Ids in every recorded archive, read back from the files on disk."""
    ids = []
    for archive in AuditLogArchive.objects.order_by("first_id"):
        with gzip.open(storage_root / archive.path) as lines:
            ids += [json.loads(line)["id"] for line in lines]
    return ids


@pytest.fixture
def entries(db):
    """Five entries older than 90 days (kinds old-0..old-4) and three recent ones."""
    now = timezone.now()
    old = [log_entry(f"old-{n}", namespace="acme", at=now - timedelta(days=120 - n), metadata={"n": n}) for n in range(5)]
    new = [log_entry(f"new-{n}", namespace="acme", at=now - timedelta(days=89 - n)) for n in range(3)]
    return old, new


def test_rotation_archives_exactly_the_old_entries_and_removes_them(entries, storage, storage_root):
    old, new = entries

    result = logs_rotate(retention_days=90, batch_size=2)

    assert result.archived == 5 and result.deleted == 5
    assert sorted(AuditLog.objects.values_list("pk", flat=True)) == sorted(e.pk for e in new)
    archives = list(AuditLogArchive.objects.order_by("first_id"))
    assert [a.count for a in archives] == [2, 2, 1]
    assert archived_ids(storage_root) == [e.pk for e in old]
    for archive in archives:
        file = storage_root / archive.path
        assert archive.size == file.stat().st_size
        assert archive.location == "local"
        assert archive.path.startswith(f"logs/archive/{archive.start:%Y/%m/%d}/auditlog-")
    assert (archives[0].start, archives[-1].end) == (old[0].created, old[-1].created)


def test_archive_lines_keep_every_field(entries, storage, storage_root):
    old, _new = entries

    logs_rotate(retention_days=90)

    archive = AuditLogArchive.objects.get()
    with gzip.open(storage_root / archive.path) as lines:
        first = json.loads(next(iter(lines)))
    assert first["kind"] == "old-0"
    assert first["metadata"] == {"n": 0}
    assert first["ip"] == "192.0.2.9" and first["user_agent"] == "pytest" and first["namespace_name"] == "acme"
    assert first["created"] == old[0].created.isoformat()


def test_a_second_rotation_is_a_no_op(entries, storage, storage_root):
    logs_rotate(retention_days=90, batch_size=2)
    files = sorted(p for p in storage_root.rglob("*") if p.is_file())

    again = logs_rotate(retention_days=90, batch_size=2)

    assert (again.archived, again.deleted, again.archives) == (0, 0, [])
    assert AuditLogArchive.objects.count() == 3
    assert sorted(p for p in storage_root.rglob("*") if p.is_file()) == files
    assert AuditLog.objects.count() == 3


def test_an_interrupted_rotation_loses_nothing_and_the_next_one_finishes(entries, storage, storage_root, monkeypatch):
    old, new = entries
    real_commit = logs_service._archive_commit
    calls = []

    def crash_on_second_batch(**kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("worker killed")
        real_commit(**kwargs)

    monkeypatch.setattr(logs_service, "_archive_commit", crash_on_second_batch)
    with pytest.raises(RuntimeError):
        logs_rotate(retention_days=90, batch_size=2)

    # the first batch is archived and gone, the second still in the database, nothing in between
    assert AuditLogArchive.objects.count() == 1
    assert archived_ids(storage_root) == [old[0].pk, old[1].pk]
    assert set(AuditLog.objects.values_list("pk", flat=True)) == {e.pk for e in old[2:] + new}
    # the failed attempt cleaned up after itself: no file, no row besides the complete archive
    assert [p.relative_to(storage_root).as_posix() for p in storage_root.rglob("*.gz")] == [AuditLogArchive.objects.get().path]

    monkeypatch.setattr(logs_service, "_archive_commit", real_commit)
    logs_rotate(retention_days=90, batch_size=2)

    ids = archived_ids(storage_root)
    assert ids == [e.pk for e in old]  # each old entry in exactly one archive
    assert len(ids) == len(set(ids))
    assert set(AuditLog.objects.values_list("pk", flat=True)) == {e.pk for e in new}


def test_what_a_killed_rotation_left_behind_is_removed_by_the_next_and_never_read(entries, storage, storage_root):
    old, _new = entries
    # a rotation killed after writing its file, before its commit: an incomplete row naming the file
    path = "logs/archive/2026/01/01/auditlog-000000000001-000000000002-deadbeef.jsonl.gz"
    storage.write_atomic(path, [gzip.compress(b'{"id": 1}\n')])
    left = AuditLogArchive.objects.create(
        path=path, location="local", first_id=1, last_id=2, start=old[0].created, end=old[1].created, count=0, size=0, complete=False
    )
    window = LogWindow(start=old[0].created - timedelta(days=1), end=timezone.now())
    assert len(list(window_entries(scope=LogScope(everything=True), window=window))) == 8  # the file is not read
    young = logs_rotate(retention_days=90)
    assert young.abandoned_removed == 0  # it may still be in progress: left alone for an hour
    assert storage.exists(path)

    AuditLogArchive.objects.filter(pk=left.pk).update(created=timezone.now() - timedelta(hours=2))
    result = logs_rotate(retention_days=90)

    assert result.abandoned_removed == 1
    assert not storage.exists(path)
    assert not AuditLogArchive.objects.filter(complete=False).exists()


def test_a_batch_another_rotation_took_meanwhile_is_not_archived_twice(entries, storage, storage_root, monkeypatch):
    old, new = entries
    real_commit = logs_service._archive_commit
    raced = []

    def other_rotation_first(*, archive, ids):
        if not raced:  # another worker archived (and removed) the first entry of this batch meanwhile
            raced.append(ids[0])
            AuditLog.objects.filter(pk=ids[0]).delete()
        real_commit(archive=archive, ids=ids)

    monkeypatch.setattr(logs_service, "_archive_commit", other_rotation_first)
    result = logs_rotate(retention_days=90, batch_size=10)

    assert result.skipped_batches == 1
    assert archived_ids(storage_root) == [e.pk for e in old if e.pk != raced[0]]
    assert AuditLogArchive.objects.count() == 1
    # the losing attempt removed its own file: only the recorded archive is left in storage
    assert [p.relative_to(storage_root).as_posix() for p in storage_root.rglob("*.gz")] == [AuditLogArchive.objects.get().path]
    assert set(AuditLog.objects.values_list("pk", flat=True)) == {e.pk for e in new}


def test_without_archiving_old_entries_are_just_removed(entries, storage, storage_root):
    _old, new = entries

    with override_settings(MOORAGE=logs_config(archive=False)):
        result = logs_rotate(retention_days=90, batch_size=2)

    assert (result.archived, result.deleted) == (0, 5)
    assert not AuditLogArchive.objects.exists()
    assert not list(storage_root.rglob("*.gz"))
    assert set(AuditLog.objects.values_list("pk", flat=True)) == {e.pk for e in new}


def test_the_periodic_task_uses_the_configuration(entries, storage, storage_root):
    with override_settings(MOORAGE=logs_config(rotation=False)):
        assert rotate_task() == {"skipped": "logs.rotation is off"}
    assert AuditLog.objects.count() == 8

    with override_settings(MOORAGE=logs_config(retention_days=200)):
        assert rotate_task()["archived"] == 0  # nothing is 200 days old
    assert AuditLog.objects.count() == 8

    with override_settings(MOORAGE=logs_config(retention_days=100)):
        report = rotate_task()

    assert report["archived"] == 5  # 116..120 days old; the 87..89-day-old ones stay
    assert AuditLog.objects.count() == 3
