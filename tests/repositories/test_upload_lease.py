"""The writer lease of an upload session: short, renewed while a chunk streams (issue 12).

A live writer keeps the upload however long its chunk takes (its process's renewer thread renews the
lease); a writer that stops renewing (killed mid-chunk) loses it after ``uploads.writer_lease_s``,
and a writer whose lease lapsed and was taken over stops writing at its next body read. Real
database (transactions committed: the renewer has its own connection) and filesystem storage;
the bodies are slow on purpose (sleeps between chunks), nothing here asserts a duration.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta
from typing import Iterator

import pytest
from django.utils import timezone

from common.errors import BlobUploadInvalidError
from repositories.models import BlobUpload
from repositories.services.uploads import BodyStream, _Lease, _LeaseRenewer, blob_upload_append, blob_upload_start
from storagebackends.base import WriterFenced
from storagebackends.paths import upload_path
from tests.repositories.helpers import body

pytestmark = pytest.mark.django_db(transaction=True)

LEASE_S = 2  # renewals every half second, fenced after 1.5 s without one: margin on a busy machine
PIECE = b"x" * 4096


@pytest.fixture(autouse=True)
def short_lease(settings):
    settings.MOORAGE_UPLOADS = {**settings.MOORAGE_UPLOADS, "writer_lease_s": LEASE_S}


def _slow(pieces: int, during=None) -> BodyStream:
    """``pieces`` chunks spread over more than two lease lengths; ``during(i)`` runs before chunk i."""

    def chunks() -> Iterator[bytes]:
        for index in range(pieces):
            if during is not None:
                during(index)
            time.sleep(LEASE_S * 2.5 / pieces)
            yield PIECE

    return BodyStream(chunks(), len(PIECE) * pieces)


def test_a_slow_live_writer_keeps_its_lease_past_the_lease_length_and_a_competitor_is_refused(repository, storage):
    upload = blob_upload_start(repository=repository)
    refused: list[str] = []

    def compete(index: int) -> None:
        if index == 7:  # well past one lease length since the claim
            row = BlobUpload.objects.get(id=upload.id)
            assert row.writer_expires_at > timezone.now(), "the writer's lease was not renewed"
            try:
                blob_upload_append(upload=row, body=body(b"intruder"))
            except BlobUploadInvalidError as error:
                refused.append(error.message)

    done = blob_upload_append(upload=upload, body=_slow(8, compete))

    assert refused == ["another request is writing to this upload"]
    row = BlobUpload.objects.get(id=upload.id)
    assert (done.byte_count, row.byte_count, row.writer_token) == (8 * len(PIECE), 8 * len(PIECE), "")
    with storage.open(upload_path(upload.id)) as handle:
        assert handle.read() == PIECE * 8


def test_a_writer_whose_lapsed_lease_was_taken_over_stops_and_the_new_writer_wins(repository, storage):
    upload = blob_upload_start(repository=repository)
    taken: list[BlobUpload] = []

    written_when_taken: list[int] = []

    def lapse_and_take_over(index: int) -> None:
        if index == 2:  # as if this writer's lease had lapsed (a frozen process) and another claimed it
            BlobUpload.objects.filter(id=upload.id).update(writer_token="the-new-writer", writer_expires_at=timezone.now() + timedelta(minutes=1))
            taken.append(BlobUpload.objects.get(id=upload.id))
            written_when_taken.append(storage.stat(upload_path(upload.id)).size)

    with pytest.raises(BlobUploadInvalidError) as raised:
        blob_upload_append(upload=upload, body=_slow(8, lapse_and_take_over))

    assert raised.value.message.startswith("upload was taken over by another request while this chunk streamed")  # stopped mid-body
    row = BlobUpload.objects.get(id=upload.id)
    assert (row.byte_count, row.writer_token) == (0, "the-new-writer")  # untouched by the old writer
    assert taken
    # The fenced writer leaves the file alone on its way out: truncating it back to where it
    # started would cut whatever the new owner has appended since.
    assert storage.stat(upload_path(upload.id)).size >= written_when_taken[0] > 0


def test_a_writer_that_could_not_renew_its_lease_in_time_stops_writing_before_it_could_lapse(repository, storage):
    upload = blob_upload_start(repository=repository)
    lease = _Lease(upload, "token")  # never entered, so never renewed: as when the database is unreachable
    lease.check()  # just claimed: safe
    lease.renewed_at -= LEASE_S * _Lease.SAFE_FRACTION + 0.01  # the last renewal is older than the safe part of the lease

    with pytest.raises(WriterFenced):
        lease.check()


def test_a_lease_left_by_a_dead_writer_lapses_and_the_upload_resumes(repository, storage):
    upload = blob_upload_start(repository=repository)
    upload = blob_upload_append(upload=upload, body=body(b"first "))
    # A writer that died mid-chunk: its token stays, renewed for the last time just now.
    BlobUpload.objects.filter(id=upload.id).update(writer_token="dead", writer_expires_at=timezone.now() + timedelta(seconds=LEASE_S))
    with pytest.raises(BlobUploadInvalidError):
        blob_upload_append(upload=upload, body=body(b"second"))

    time.sleep(LEASE_S + 0.2)
    upload = blob_upload_append(upload=upload, body=body(b"second"))

    assert upload.byte_count == len(b"first second")
    with storage.open(upload_path(upload.id)) as handle:
        assert handle.read() == b"first second"


def test_a_forked_worker_starts_its_own_renewer_even_if_the_parent_held_its_lock_at_the_fork():
    """gunicorn and Celery fork workers: a child must not inherit a "running" renewer whose thread
    did not survive the fork, nor a lock some parent thread held at that moment."""
    renewer = _LeaseRenewer()
    renewer._running = True  # as in a parent that streamed a chunk: its thread is not copied by fork()
    renewer._leases.add(object())
    with renewer._lock:
        pid = os.fork()
        if pid == 0:  # the child: report by exit status only, touch nothing else
            fresh = not renewer._running and not renewer._leases and renewer._lock.acquire(timeout=1)
            os._exit(0 if fresh else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
