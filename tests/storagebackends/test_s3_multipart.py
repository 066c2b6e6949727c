"""S3 specifics of the storage adapter: multipart parts, tails, persisted state, presigned URLs.

The generic contract runs against S3 too (conftest.BACKENDS); these cases cross the 5 MiB part
boundaries the contract's small objects never reach.
"""

from __future__ import annotations

import json
import os
import time
from typing import Iterator
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from storagebackends.base import StorageError
from storagebackends.paths import blob_path, upload_path
from storagebackends.s3 import MIN_PART
from tests.factories import digest_of

MiB = 1024 * 1024
UPLOAD = upload_path("s3multipart")


class Boom(Exception):
    """A client that went away mid-body."""


def failing(*chunks: bytes) -> Iterator[bytes]:
    yield from chunks
    raise Boom


def read(backend, path: str, offset: int = 0) -> bytes:
    with backend.open(path, offset) as handle:
        return handle.read()


def append_all(backend, state: dict, offset: int, chunks: list[bytes]) -> tuple[int, dict]:
    for chunk in chunks:
        written, state = backend.upload_append(UPLOAD, state, offset, [chunk])
        offset += written
    return offset, state


def pending_multipart_uploads(moto_s3, backend) -> list[str]:
    listing = moto_s3.client().list_multipart_uploads(Bucket=moto_s3.bucket, Prefix=backend.storage.location)
    return [entry["Key"] for entry in listing.get("Uploads", [])]


def sent_parts(moto_s3, backend, state: dict) -> int:
    key = f"{backend.storage.location}/uploads/s3multipart/blob"
    listing = moto_s3.client().list_parts(Bucket=moto_s3.bucket, Key=key, UploadId=state["s3_upload_id"])
    return len(listing.get("Parts", []))


def test_many_small_appends_crossing_part_boundaries_commit_the_exact_bytes(s3_backend_factory):
    backend = s3_backend_factory()
    data = os.urandom(17 * MiB + 12345)
    chunks = [data[start : start + 700 * 1024 + 1] for start in range(0, len(data), 700 * 1024 + 1)]
    state = backend.upload_begin(UPLOAD)

    size, state = append_all(backend, state, 0, chunks)

    assert size == len(data) == backend.stat(UPLOAD).size
    assert state["parts"] and all(part[2] >= MIN_PART for part in state["parts"])
    assert state["tail"] < MIN_PART
    assert sum(part[2] for part in state["parts"]) + state["tail"] == len(data)
    final = blob_path(digest_of(data))
    backend.upload_commit(UPLOAD, state, final, size)
    assert read(backend, final) == data


def test_a_12_mib_blob_in_1_mib_chunks_reads_back_whole_and_from_an_offset(s3_backend_factory):
    backend = s3_backend_factory()
    data = os.urandom(12 * MiB)
    state = backend.upload_begin(UPLOAD)
    size, state = append_all(backend, state, 0, [data[i : i + MiB] for i in range(0, len(data), MiB)])
    final = blob_path(digest_of(data))

    backend.upload_commit(UPLOAD, state, final, size)

    assert backend.stat(final).size == len(data)
    assert read(backend, final) == data
    assert read(backend, final, offset=9 * MiB + 7) == data[9 * MiB + 7 :]
    assert list(backend.list("uploads")) == []


def test_open_streams_from_a_ranged_get_without_reading_the_whole_object(s3_backend_factory):
    backend = s3_backend_factory()
    data = os.urandom(3 * MiB)
    backend.write_atomic("blobs/x/big", [data])

    with backend.open("blobs/x/big", 1000) as handle:
        first = handle.read(10)
        rest = handle.read()

    assert not isinstance(handle, bytes) and first + rest == data[1000:]


def test_a_failed_append_that_already_sent_a_part_leaves_the_previous_size(s3_backend_factory, moto_s3):
    backend = s3_backend_factory()
    data = os.urandom(20 * MiB)
    state = backend.upload_begin(UPLOAD)
    _, state = backend.upload_append(UPLOAD, state, 0, [data[: 3 * MiB]])

    with pytest.raises(Boom):  # 10 MiB arrive (a part is sent), then the client goes away
        backend.upload_append(UPLOAD, state, 3 * MiB, failing(os.urandom(10 * MiB)))

    assert sent_parts(moto_s3, backend, state) == 1
    assert backend.stat(UPLOAD).size == 3 * MiB
    written, state = backend.upload_append(UPLOAD, state, 3 * MiB, [data[3 * MiB :]])
    final = blob_path(digest_of(data))
    backend.upload_commit(UPLOAD, state, final, 3 * MiB + written)
    assert read(backend, final) == data


def test_an_upload_resumes_from_persisted_state_in_a_fresh_adapter(s3_backend_factory):
    data = os.urandom(11 * MiB + 5)
    first_process = s3_backend_factory()
    state = first_process.upload_begin(UPLOAD)
    offset, state = append_all(first_process, state, 0, [data[: 6 * MiB], data[6 * MiB : 9 * MiB]])
    persisted = json.dumps(state)  # what the upload row keeps

    second_process = s3_backend_factory()
    written, state = second_process.upload_append(UPLOAD, json.loads(persisted), offset, [data[offset:]])
    third_process = s3_backend_factory()
    final = blob_path(digest_of(data))
    third_process.upload_commit(UPLOAD, json.loads(json.dumps(state)), final, offset + written)

    assert read(third_process, final) == data


def test_commit_onto_an_existing_blob_keeps_it_and_removes_every_temporary(s3_backend_factory, moto_s3):
    backend = s3_backend_factory()
    data = os.urandom(9 * MiB)
    final = blob_path(digest_of(data))
    backend.write_atomic(final, [data])
    state = backend.upload_begin(UPLOAD)
    size, state = append_all(backend, state, 0, [data])

    backend.upload_commit(UPLOAD, state, final, size)

    assert read(backend, final) == data
    assert list(backend.list("uploads")) == []
    assert pending_multipart_uploads(moto_s3, backend) == []


def test_abort_after_parts_were_sent_removes_the_multipart_upload(s3_backend_factory, moto_s3):
    backend = s3_backend_factory()
    state = backend.upload_begin(UPLOAD)
    _, state = backend.upload_append(UPLOAD, state, 0, [os.urandom(9 * MiB)])
    assert pending_multipart_uploads(moto_s3, backend)

    backend.upload_abort(UPLOAD, state)

    assert pending_multipart_uploads(moto_s3, backend) == []
    assert list(backend.list("uploads")) == []


def test_an_upload_with_sent_parts_cannot_be_read_back_as_if_it_were_its_tail(s3_backend_factory):
    backend = s3_backend_factory()
    state = backend.upload_begin(UPLOAD)
    backend.upload_append(UPLOAD, state, 0, [os.urandom(9 * MiB)])

    with pytest.raises(StorageError):
        backend.open(UPLOAD)


def test_write_atomic_of_a_large_object_uses_parts_and_a_failure_leaves_no_upload(s3_backend_factory, moto_s3):
    backend = s3_backend_factory()
    data = os.urandom(17 * MiB)

    assert backend.write_atomic("blobs/x/large", [data[i : i + MiB] for i in range(0, len(data), MiB)]) == len(data)
    with pytest.raises(Boom):
        backend.write_atomic("blobs/x/failed", failing(data))

    assert read(backend, "blobs/x/large") == data
    assert not backend.exists("blobs/x/failed")
    assert pending_multipart_uploads(moto_s3, backend) == []


def test_redirect_url_is_a_presigned_get_only_with_direct_download(s3_backend_factory):
    backend = s3_backend_factory(direct_download=True)
    backend.write_atomic("blobs/x/small", [b"presigned bytes"])

    url = backend.redirect_url("blobs/x/small", expires_in=60)

    assert url and url.startswith(backend.storage.endpoint_url + "/")
    query = parse_qs(urlparse(url).query)
    if "X-Amz-Expires" in query:  # SigV4
        assert query["X-Amz-Expires"] == ["60"]
    else:  # SigV2 query-string auth
        assert "Signature" in query and time.time() < int(query["Expires"][0]) <= time.time() + 61
    assert requests.get(url, timeout=10).content == b"presigned bytes"
    assert s3_backend_factory(direct_download=False).redirect_url("blobs/x/small", expires_in=60) is None


def test_an_empty_upload_commits_an_empty_blob(s3_backend_factory, moto_s3):
    backend = s3_backend_factory()
    state = backend.upload_begin(UPLOAD)
    final = blob_path(digest_of(b""))

    backend.upload_commit(UPLOAD, state, final, 0)

    assert read(backend, final) == b""
    assert pending_multipart_uploads(moto_s3, backend) == []


def test_a_commit_retried_after_the_parts_were_completed_still_makes_the_blob(s3_backend_factory, moto_s3):
    backend = s3_backend_factory()
    data = os.urandom(16 * MiB)  # two full parts, no tail
    state = backend.upload_begin(UPLOAD)
    size, state = append_all(backend, state, 0, [data])
    assert state["tail"] == 0
    moto_s3.client().complete_multipart_upload(  # the first commit got this far, then failed
        Bucket=moto_s3.bucket,
        Key=f"{backend.storage.location}/uploads/s3multipart/blob",
        UploadId=state["s3_upload_id"],
        MultipartUpload={"Parts": [{"PartNumber": number, "ETag": etag} for number, etag, _size in state["parts"]]},
    )
    final = blob_path(digest_of(data))

    backend.upload_commit(UPLOAD, state, final, size)

    assert read(backend, final) == data
    assert list(backend.list("uploads")) == []


def test_orphan_removal_aborts_multipart_uploads_of_stale_uploads_even_without_objects(s3_backend_factory, moto_s3):
    from datetime import datetime, timedelta, timezone

    backend = s3_backend_factory()
    state = backend.upload_begin(UPLOAD)
    backend.upload_append(UPLOAD, state, 0, [os.urandom(6 * MiB)])
    kept = upload_path("s3kept")
    backend.upload_begin(kept)
    # A multipart upload whose objects are gone (its tail deleted): only the listing finds it.
    lost = f"{backend.storage.location}/uploads/s3lost/blob"
    moto_s3.client().create_multipart_upload(Bucket=moto_s3.bucket, Key=lost)
    assert len(pending_multipart_uploads(moto_s3, backend)) == 3

    removed = backend.upload_orphans_remove(older_than=datetime.now(timezone.utc) + timedelta(minutes=1), keep={kept})

    assert removed == 2
    assert pending_multipart_uploads(moto_s3, backend) == [f"{backend.storage.location}/uploads/s3kept/blob"]
    assert sorted(backend.list("uploads")) == ["uploads/s3kept/data"]
