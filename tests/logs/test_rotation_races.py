"""Rotations that really race (threads with their own database connections, real commits): every
old entry ends in exactly one complete archive, nothing is left half-done."""

from __future__ import annotations

import gzip
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from repositories.models import AuditLog, AuditLogArchive
from repositories.services.logs import logs_rotate
from tests.logs.conftest import log_entry
from tests.repositories.helpers import race

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_rotations_archive_every_entry_exactly_once(storage, storage_root):
    now = timezone.now()
    old = [log_entry("pull_repo", namespace="acme", at=now - timedelta(days=100, minutes=n)).pk for n in range(60)]
    recent = log_entry("pull_repo", namespace="acme").pk

    outcomes = race([lambda: logs_rotate(retention_days=90, batch_size=7)] * 3)

    assert all(outcome.ok for outcome in outcomes), [outcome.error for outcome in outcomes]
    assert sum(outcome.value.archived for outcome in outcomes) == 60
    assert list(AuditLog.objects.values_list("pk", flat=True)) == [recent]
    assert not AuditLogArchive.objects.filter(complete=False).exists()
    archived = []
    for archive in AuditLogArchive.objects.all():
        with gzip.open(storage_root / archive.path) as lines:
            ids = [json.loads(line)["id"] for line in lines]
        assert len(ids) == archive.count
        archived += ids
    assert sorted(archived) == sorted(old)  # each exactly once
    on_disk = sorted(p.relative_to(storage_root).as_posix() for p in storage_root.rglob("*.gz"))
    assert on_disk == sorted(AuditLogArchive.objects.values_list("path", flat=True))  # losers removed their files
