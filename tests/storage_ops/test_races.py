"""Replication racing the garbage collector: whatever order they end in, a collected blob keeps no
placement and no stray copy, and a blob that stays has every recorded copy in place."""

from __future__ import annotations

import os
import threading

import pytest

from repositories.models import Blob, BlobPlacement
from repositories.services.gc import gc_run
from repositories.services.storage import blob_replicate
from tests.factories import digest_of
from tests.repositories.helpers import push_blob, race

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("pause", [0.0, 0.05, 0.3])
def test_a_blob_collected_while_it_is_copied_leaves_no_placement_and_no_copy(locations, repository, pause):
    data = os.urandom(12 * 1024 * 1024)  # long enough that the copy is still running when the collector comes
    blob = push_blob(repository=repository, data=data)
    digest = digest_of(data)
    started = threading.Event()

    def replicate():
        started.set()
        return blob_replicate(blob=blob)

    def collect():
        started.wait(10)
        threading.Event().wait(pause)
        return gc_run(immediate=True)  # the blob is referenced by nothing: it goes

    outcomes = race([replicate, collect])

    assert all(outcome.ok for outcome in outcomes), [outcome.error for outcome in outcomes]
    assert not Blob.objects.filter(digest=digest).exists()
    assert not BlobPlacement.objects.filter(blob__digest=digest).exists()
    assert locations.s3_bytes(digest) is None, "a copy of a collected blob was left in S3"
    assert locations.fs_bytes(digest) is None
