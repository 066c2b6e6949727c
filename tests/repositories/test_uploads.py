"""Blob upload services against the real database and real filesystem storage."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from common.errors import (
    BlobUploadInvalidError,
    BlobUploadUnknownError,
    DigestInvalidError,
    RangeNotSatisfiableError,
    SizeInvalidError,
)
from common.resumable_hash import ResumableHash
from repositories.models import Blob, BlobPlacement, BlobUpload, UploadedBlob
from repositories.selectors import blob_find_in_repository
from repositories.services.uploads import (
    BodyStream,
    blob_upload_append,
    blob_upload_cancel,
    blob_upload_claim,
    blob_upload_complete,
    blob_upload_monolithic,
    blob_upload_start,
    stale_uploads_remove,
)
from storagebackends.paths import blob_path, upload_path
from tests.factories import RepositoryFactory, digest_of
from tests.repositories.helpers import body, files_under, push_blob

pytestmark = pytest.mark.django_db

LAYER = b"".join(bytes([i % 251]) * 1000 for i in range(300))  # 300 kB, not one repeated byte


def test_upload_start_opens_an_empty_session_in_the_preferred_location(repository, storage):
    upload = blob_upload_start(repository=repository)

    assert (upload.byte_count, upload.location) == (0, "local")
    assert storage.stat(upload_path(upload.id)).size == 0


def test_appended_chunks_extend_the_session_data_in_order(repository, storage):
    upload = blob_upload_start(repository=repository)

    upload = blob_upload_append(upload=upload, body=body(b"hello "))
    upload = blob_upload_append(upload=upload, body=body(b"world"))

    assert (upload.byte_count, upload.chunk_count) == (11, 2)
    with storage.open(upload_path(upload.id)) as handle:
        assert handle.read() == b"hello world"


def test_completing_an_upload_stores_the_blob_at_its_digest(repository, storage):
    blob = push_blob(repository=repository, data=LAYER, chunk_size=64 * 1024)

    assert (blob.digest, blob.size) == (digest_of(LAYER), len(LAYER))
    assert list(BlobPlacement.objects.filter(blob=blob).values_list("location", flat=True)) == ["local"]
    with storage.open(blob_path(blob.digest)) as handle:
        assert handle.read() == LAYER


def test_completing_an_upload_links_the_blob_to_the_repository_for_the_grace_period(repository, storage, settings):
    blob = push_blob(repository=repository, data=LAYER)

    link = UploadedBlob.objects.get(repository=repository, blob=blob)
    grace = timedelta(seconds=settings.MOORAGE_UPLOADS["link_grace_s"])
    assert timezone.now() + grace - timedelta(minutes=1) < link.expires_at <= timezone.now() + grace
    assert blob_find_in_repository(repository=repository, digest=blob.digest) == blob
    assert blob_find_in_repository(repository=RepositoryFactory(), digest=blob.digest) is None


def test_a_completed_upload_leaves_no_session_or_partial_data_behind(repository, storage, storage_root):
    upload = blob_upload_start(repository=repository)
    upload = blob_upload_append(upload=upload, body=body(LAYER))

    blob_upload_complete(upload=upload, digest=digest_of(LAYER))

    assert not BlobUpload.objects.filter(id=upload.id).exists()
    assert files_under(storage_root / "uploads") == []


def test_completing_with_a_final_chunk_appends_it_before_verifying(repository, storage):
    upload = blob_upload_start(repository=repository)
    upload = blob_upload_append(upload=upload, body=body(LAYER[:1000]))

    blob = blob_upload_complete(upload=upload, digest=digest_of(LAYER), body=body(LAYER[1000:]), content_range=(1000, len(LAYER) - 1))

    with storage.open(blob_path(blob.digest)) as handle:
        assert handle.read() == LAYER


def test_the_saved_hash_state_is_the_hash_of_the_bytes_received_so_far(repository, storage):
    upload = blob_upload_start(repository=repository)
    blob_upload_append(upload=upload, body=body(LAYER[:5000]))

    saved = BlobUpload.objects.get(id=upload.id)

    assert ResumableHash.restore("sha256", bytes(saved.hash_state)).hexdigest() == hashlib.sha256(LAYER[:5000]).hexdigest()


def test_an_upload_resumes_from_its_saved_row_as_another_process_would(repository, storage):
    first = blob_upload_start(repository=repository)
    blob_upload_append(upload=first, body=body(LAYER[:70001]))

    # A different request (or host) knows only the id: everything else comes from the row.
    resumed = BlobUpload.objects.get(id=first.id)
    resumed = blob_upload_append(upload=resumed, body=body(LAYER[70001:]), content_range=(70001, len(LAYER) - 1))
    blob = blob_upload_complete(upload=BlobUpload.objects.get(id=first.id), digest=digest_of(LAYER))

    assert blob.digest == digest_of(LAYER)
    with storage.open(blob_path(blob.digest)) as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == hashlib.sha256(LAYER).hexdigest()


def test_completing_with_a_sha512_digest_rehashes_the_stored_data(repository, storage):
    upload = blob_upload_start(repository=repository)
    upload = blob_upload_append(upload=upload, body=body(LAYER))

    blob = blob_upload_complete(upload=upload, digest=digest_of(LAYER, "sha512"))

    assert blob.digest == digest_of(LAYER, "sha512")
    assert storage.exists(blob_path(blob.digest))


def test_a_digest_mismatch_stores_nothing(repository, storage, storage_root):
    upload = blob_upload_start(repository=repository)
    upload = blob_upload_append(upload=upload, body=body(LAYER))

    with pytest.raises(DigestInvalidError) as raised:
        blob_upload_complete(upload=upload, digest=digest_of(b"something else"))

    assert raised.value.detail["actual"] == digest_of(LAYER)
    assert not Blob.objects.exists()
    assert not BlobUpload.objects.exists()
    assert files_under(storage_root) == []


def test_a_failed_monolithic_upload_leaves_nothing_behind(repository, storage, storage_root):
    with pytest.raises(DigestInvalidError):
        blob_upload_monolithic(repository=repository, digest=digest_of(b"other"), body=body(LAYER))

    assert not Blob.objects.exists()
    assert not BlobUpload.objects.exists()
    assert files_under(storage_root) == []


def test_cancel_removes_the_session_and_its_data(repository, storage, storage_root):
    upload = blob_upload_start(repository=repository)
    upload = blob_upload_append(upload=upload, body=body(LAYER))

    blob_upload_cancel(upload=upload)

    assert not BlobUpload.objects.filter(id=upload.id).exists()
    assert files_under(storage_root) == []


def test_the_same_blob_pushed_twice_is_stored_once(storage, storage_root):
    first, second = RepositoryFactory(), RepositoryFactory()

    push_blob(repository=first, data=LAYER)
    push_blob(repository=second, data=LAYER, chunk_size=100_000)

    assert Blob.objects.filter(digest=digest_of(LAYER)).count() == 1
    assert BlobPlacement.objects.count() == 1
    assert files_under(storage_root) == [storage_root / blob_path(digest_of(LAYER))]
    assert UploadedBlob.objects.filter(blob__digest=digest_of(LAYER)).count() == 2


def test_a_blob_link_past_its_expiry_makes_the_blob_invisible_in_the_repository(repository, storage):
    blob = push_blob(repository=repository, data=LAYER)

    UploadedBlob.objects.filter(repository=repository, blob=blob).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert blob_find_in_repository(repository=repository, digest=blob.digest) is None


def test_pushing_a_blob_again_renews_an_expired_link(repository, storage):
    blob = push_blob(repository=repository, data=LAYER)
    UploadedBlob.objects.filter(repository=repository, blob=blob).update(expires_at=timezone.now() - timedelta(seconds=1))

    push_blob(repository=repository, data=LAYER)

    assert blob_find_in_repository(repository=repository, digest=blob.digest) == blob


def test_a_chunk_that_does_not_start_at_the_end_is_refused_with_the_current_offset(repository, storage):
    upload = blob_upload_start(repository=repository)
    upload = blob_upload_append(upload=upload, body=body(b"0123456789"))

    with pytest.raises(RangeNotSatisfiableError) as raised:
        blob_upload_append(upload=upload, body=body(b"abc"), content_range=(5, 7))

    assert raised.value.detail["offset"] == 10


def test_a_chunk_shorter_than_its_declared_length_leaves_the_upload_as_it_was(repository, storage):
    upload = blob_upload_start(repository=repository)
    upload = blob_upload_append(upload=upload, body=body(b"0123456789"))

    with pytest.raises(SizeInvalidError):
        blob_upload_append(upload=upload, body=BodyStream([b"abc"], 10))

    saved = BlobUpload.objects.get(id=upload.id)
    assert (saved.byte_count, saved.writer_token) == (10, "")
    assert storage.stat(upload_path(upload.id)).size == 10


def test_a_failed_chunk_does_not_prevent_the_next_one(repository, storage):
    upload = blob_upload_start(repository=repository)
    with pytest.raises(SizeInvalidError):
        blob_upload_append(upload=upload, body=BodyStream([b"abc"], 10))

    upload = blob_upload_append(upload=BlobUpload.objects.get(id=upload.id), body=body(LAYER))
    blob = blob_upload_complete(upload=upload, digest=digest_of(LAYER))

    assert blob.size == len(LAYER)


def test_a_session_held_by_another_writer_refuses_a_second_writer(repository, storage):
    upload = blob_upload_start(repository=repository)
    BlobUpload.objects.filter(id=upload.id).update(writer_token="someone", writer_expires_at=timezone.now() + timedelta(minutes=5))

    with pytest.raises(BlobUploadInvalidError):
        blob_upload_append(upload=upload, body=body(b"abc"))

    assert storage.stat(upload_path(upload.id)).size == 0


def test_claiming_a_session_returns_it_as_stored_with_the_lease_taken(repository, storage):
    upload = blob_upload_append(upload=blob_upload_start(repository=repository), body=body(b"hello "))

    claimed, token = blob_upload_claim(repository=repository, upload_id=upload.id)

    assert (claimed.byte_count, claimed.chunk_count, claimed.location) == (6, 1, "local")
    assert bytes(claimed.hash_state) == bytes(upload.hash_state) and claimed.storage_state == upload.storage_state
    row = BlobUpload.objects.get(id=upload.id)
    assert row.writer_token == token and row.writer_expires_at > timezone.now()
    assert claimed.writer_expires_at == row.writer_expires_at
    done = blob_upload_append(upload=claimed, body=body(b"world"), content_range=(6, 10), token=token)
    assert done.byte_count == 11 and BlobUpload.objects.get(id=upload.id).writer_token == ""


def test_a_claimed_session_refuses_a_second_claim_until_its_lease_lapses(repository, storage):
    upload = blob_upload_start(repository=repository)
    blob_upload_claim(repository=repository, upload_id=upload.id)

    with pytest.raises(BlobUploadInvalidError):
        blob_upload_claim(repository=repository, upload_id=upload.id)

    BlobUpload.objects.filter(id=upload.id).update(writer_expires_at=timezone.now() - timedelta(seconds=1))
    _claimed, token = blob_upload_claim(repository=repository, upload_id=upload.id)
    assert BlobUpload.objects.get(id=upload.id).writer_token == token


def test_claiming_a_session_of_another_repository_or_an_unknown_one_is_upload_unknown(repository, storage):
    upload = blob_upload_start(repository=repository)

    for other, upload_id in ((RepositoryFactory(), upload.id), (repository, "0" * 32), (repository, "bad id\x00")):
        with pytest.raises(BlobUploadUnknownError):
            blob_upload_claim(repository=other, upload_id=upload_id)
    assert BlobUpload.objects.get(id=upload.id).writer_token == ""


def test_a_misplaced_chunk_on_a_claimed_session_releases_the_lease_and_keeps_the_data(repository, storage):
    upload = blob_upload_append(upload=blob_upload_start(repository=repository), body=body(b"0123456789"))
    claimed, token = blob_upload_claim(repository=repository, upload_id=upload.id)

    with pytest.raises(RangeNotSatisfiableError):
        blob_upload_append(upload=claimed, body=body(b"abc"), content_range=(5, 7), token=token)

    row = BlobUpload.objects.get(id=upload.id)
    assert (row.writer_token, row.byte_count) == ("", 10)
    with storage.open(upload_path(upload.id)) as handle:
        assert handle.read() == b"0123456789"


def test_stale_uploads_remove_deletes_idle_sessions_with_their_data(repository, storage, storage_root):
    idle = blob_upload_start(repository=repository)
    blob_upload_append(upload=idle, body=body(LAYER))
    BlobUpload.objects.filter(id=idle.id).update(updated=timezone.now() - timedelta(days=2))

    removed = stale_uploads_remove(older_than=timedelta(days=1))

    assert removed == 1
    assert not BlobUpload.objects.filter(id=idle.id).exists()
    assert files_under(storage_root) == []


def test_stale_uploads_remove_keeps_recent_sessions_and_sessions_being_written(repository, storage):
    recent = blob_upload_start(repository=repository)
    writing = blob_upload_start(repository=repository)
    BlobUpload.objects.filter(id=writing.id).update(
        updated=timezone.now() - timedelta(days=2), writer_token="busy", writer_expires_at=timezone.now() + timedelta(minutes=5)
    )

    removed = stale_uploads_remove(older_than=timedelta(days=1))

    assert removed == 0
    assert set(BlobUpload.objects.values_list("id", flat=True)) == {recent.id, writing.id}
    assert storage.exists(upload_path(recent.id)) and storage.exists(upload_path(writing.id))
