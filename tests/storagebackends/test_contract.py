"""The storage contract (storagebackends/base.py), run against every backend in conftest.BACKENDS."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Iterator

import pytest

from storagebackends.base import ObjectNotFound, StorageBackend
from storagebackends.paths import blob_path, upload_path
from tests.factories import digest_of

DATA = bytes(range(256)) * 64  # 16 KiB
FINAL = blob_path(digest_of(DATA))
UPLOAD = upload_path("contract0upload")


class Boom(Exception):
    """A client that went away mid-body."""


def failing(*chunks: bytes) -> Iterator[bytes]:
    yield from chunks
    raise Boom


def put(backend: StorageBackend, path: str, data: bytes) -> None:
    backend.write_atomic(path, [data])


def read(backend: StorageBackend, path: str, offset: int = 0) -> bytes:
    with backend.open(path, offset) as handle:
        return handle.read()


def upload(backend: StorageBackend, *chunks: bytes, path: str = UPLOAD) -> dict:
    """Begin an upload and append ``chunks`` one call each; returns the backend state."""
    state = backend.upload_begin(path)
    offset = 0
    for chunk in chunks:
        written, state = backend.upload_append(path, state, offset, [chunk])
        offset += written
    return state


# -- reads -------------------------------------------------------------------------------------


def test_open_reads_an_object_from_the_start(backend):
    put(backend, FINAL, DATA)

    assert read(backend, FINAL) == DATA


def test_open_with_an_offset_starts_reading_there(backend):
    put(backend, FINAL, DATA)

    assert read(backend, FINAL, offset=1000) == DATA[1000:]


def test_open_of_a_missing_object_raises_object_not_found(backend):
    with pytest.raises(ObjectNotFound):
        backend.open("blobs/sha256/00/missing")


def test_open_at_the_end_of_an_object_reads_nothing(backend):
    backend.write_atomic("blobs/x/small", [b"12345"])

    assert read(backend, "blobs/x/small", offset=5) == b""


def test_stat_reports_the_size_of_an_object(backend):
    put(backend, FINAL, DATA)

    assert backend.stat(FINAL).size == len(DATA)


def test_stat_of_a_missing_object_is_none(backend):
    assert backend.stat("blobs/sha256/00/missing") is None


def test_exists_tells_a_present_object_from_a_missing_one(backend):
    put(backend, FINAL, DATA)

    assert backend.exists(FINAL)
    assert not backend.exists(FINAL + "0")


def test_delete_removes_an_object(backend):
    put(backend, FINAL, DATA)

    backend.delete(FINAL)

    assert not backend.exists(FINAL)


def test_delete_of_a_missing_object_is_not_an_error(backend):
    backend.delete("blobs/sha256/00/missing")

    assert not backend.exists("blobs/sha256/00/missing")


def test_list_yields_every_object_below_a_prefix_and_nothing_else(backend):
    for path in ("blobs/sha256/aa/aa1", "blobs/sha256/aa/aa2", "blobs/sha256/bb/bb1", "other/x"):
        put(backend, path, b"x")

    assert sorted(backend.list("blobs")) == ["blobs/sha256/aa/aa1", "blobs/sha256/aa/aa2", "blobs/sha256/bb/bb1"]


def test_list_of_a_prefix_without_objects_yields_nothing(backend):
    put(backend, "other/x", b"x")

    assert list(backend.list("blobs")) == []


# -- uploads -----------------------------------------------------------------------------------


def test_an_upload_begins_empty(backend):
    backend.upload_begin(UPLOAD)

    assert backend.stat(UPLOAD).size == 0


def test_upload_append_returns_the_number_of_bytes_written(backend):
    state = backend.upload_begin(UPLOAD)

    written, _state = backend.upload_append(UPLOAD, state, 0, [DATA[:100], DATA[100:300]])

    assert written == 300


def test_appended_chunks_are_committed_in_order_to_the_final_path(backend):
    state = upload(backend, DATA[:5000], DATA[5000:9000], DATA[9000:])

    backend.upload_commit(UPLOAD, state, FINAL, len(DATA))

    assert read(backend, FINAL) == DATA


def test_the_final_path_does_not_exist_before_commit(backend):
    upload(backend, DATA)

    assert not backend.exists(FINAL)


def test_commit_drops_bytes_past_the_committed_size(backend):
    state = upload(backend, DATA, b"left by a chunk that failed")

    backend.upload_commit(UPLOAD, state, FINAL, len(DATA))

    assert read(backend, FINAL) == DATA


def test_commit_drops_bytes_past_the_committed_size_within_one_append(backend):
    state = upload(backend, DATA + b"left by a chunk that failed")

    backend.upload_commit(UPLOAD, state, FINAL, len(DATA))

    assert read(backend, FINAL) == DATA


def test_commit_removes_the_upload_object(backend):
    state = upload(backend, DATA)

    backend.upload_commit(UPLOAD, state, FINAL, len(DATA))

    assert not backend.exists(UPLOAD)
    assert list(backend.list("uploads")) == []


def test_commit_replaces_an_identical_blob_already_at_the_final_path(backend):
    put(backend, FINAL, DATA)
    state = upload(backend, DATA)

    backend.upload_commit(UPLOAD, state, FINAL, len(DATA))

    assert read(backend, FINAL) == DATA


def test_readers_never_see_a_partial_blob_while_it_is_committed(backend):
    big = DATA * 256  # 4 MiB
    final = blob_path(digest_of(big))
    seen: list[int] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                content = read(backend, final)
            except ObjectNotFound:
                continue
            seen.append(len(content) if content == big else -len(content))

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        for round_number in range(4):
            path = upload_path(f"contract{round_number}")
            state = backend.upload_begin(path)
            offset = 0
            for start in range(0, len(big), 256 * 1024):
                written, state = backend.upload_append(path, state, offset, [big[start : start + 256 * 1024]])
                offset += written
            backend.upload_commit(path, state, final, len(big))
        while not seen and thread.is_alive():
            stop.wait(0.01)
    finally:
        stop.set()
        thread.join(10)

    assert seen and set(seen) == {len(big)}, f"partial reads of sizes {sorted({-s for s in seen if s < 0})}"


def test_a_failed_append_leaves_the_upload_at_its_previous_size(backend):
    state = upload(backend, DATA[:5000])

    with pytest.raises(Boom):
        backend.upload_append(UPLOAD, state, 5000, failing(DATA[5000:6000], DATA[6000:7000]))

    assert backend.stat(UPLOAD).size == 5000


def test_an_upload_continues_after_a_failed_append(backend):
    state = upload(backend, DATA[:5000])
    with pytest.raises(Boom):
        backend.upload_append(UPLOAD, state, 5000, failing(b"garbage" * 100))

    written, state = backend.upload_append(UPLOAD, state, 5000, [DATA[5000:]])
    backend.upload_commit(UPLOAD, state, FINAL, 5000 + written)

    assert read(backend, FINAL) == DATA


def test_upload_abort_removes_the_upload_and_leaves_nothing_behind(backend):
    state = upload(backend, DATA)

    backend.upload_abort(UPLOAD, state)

    assert not backend.exists(UPLOAD)
    assert list(backend.list("uploads")) == []


def test_upload_abort_of_an_upload_already_gone_is_not_an_error(backend):
    state = upload(backend, DATA)
    backend.upload_abort(UPLOAD, state)

    backend.upload_abort(UPLOAD, state)

    assert not backend.exists(UPLOAD)


def test_append_or_commit_of_an_aborted_upload_raises_object_not_found(backend):
    state = upload(backend, b"abc")
    backend.upload_abort(UPLOAD, state)

    with pytest.raises(ObjectNotFound):
        backend.upload_append(UPLOAD, state, 3, [b"def"])
    with pytest.raises(ObjectNotFound):
        backend.upload_commit(UPLOAD, state, "blobs/never", 3)
    assert not backend.exists("blobs/never")


def test_an_empty_upload_commits_an_empty_blob(backend):
    state = backend.upload_begin(UPLOAD)

    backend.upload_commit(UPLOAD, state, "blobs/empty", 0)

    assert backend.stat("blobs/empty").size == 0
    assert read(backend, "blobs/empty") == b""


def test_separate_uploads_do_not_see_each_other(backend):
    first = upload(backend, b"first", path=upload_path("one"))
    second = upload(backend, b"second!", path=upload_path("two"))

    backend.upload_commit(upload_path("one"), first, "blobs/x/one", 5)
    backend.upload_commit(upload_path("two"), second, "blobs/x/two", 7)

    assert (read(backend, "blobs/x/one"), read(backend, "blobs/x/two")) == (b"first", b"second!")


# -- whole objects -----------------------------------------------------------------------------


def test_write_atomic_stores_the_whole_object_and_returns_its_size(backend):
    size = backend.write_atomic(FINAL, [DATA[:10], DATA[10:]])

    assert size == len(DATA)
    assert read(backend, FINAL) == DATA


def test_write_atomic_replaces_an_existing_object(backend):
    put(backend, "manifests/x", b"old")

    backend.write_atomic("manifests/x", [b"new"])

    assert read(backend, "manifests/x") == b"new"


def test_a_failed_write_atomic_leaves_no_object_behind(backend):
    with pytest.raises(Boom):
        backend.write_atomic(FINAL, failing(DATA[:1000]))

    assert not backend.exists(FINAL)
    assert list(backend.list("blobs")) == []


def test_a_failed_write_atomic_keeps_the_previous_object(backend):
    put(backend, "manifests/x", b"old")

    with pytest.raises(Boom):
        backend.write_atomic("manifests/x", failing(b"new"))

    assert read(backend, "manifests/x") == b"old"


# -- orphaned uploads --------------------------------------------------------------------------


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def test_upload_orphans_remove_takes_an_old_orphan_and_keeps_kept_and_fresh_uploads(backend):
    orphan, kept, fresh = upload_path("orphan0"), upload_path("kept0"), upload_path("fresh0")
    upload(backend, DATA[:3000], DATA[3000:5000], path=orphan)
    kept_state = upload(backend, DATA[:4000], path=kept)
    time.sleep(1.1)  # object stores report modification times to the second
    cutoff = _utc_now()
    time.sleep(1.1)
    upload(backend, DATA[:100], path=fresh)

    removed = backend.upload_orphans_remove(older_than=cutoff, keep={kept})

    assert removed == 1
    assert not backend.exists(orphan)
    assert backend.stat(kept).size == 4000 and backend.stat(fresh).size == 100
    remaining = {path.split("/")[1] for path in backend.list("uploads")}
    assert remaining == {"kept0", "fresh0"}
    # The kept upload still works end to end.
    written, kept_state = backend.upload_append(kept, kept_state, 4000, [DATA[4000:]])
    backend.upload_commit(kept, kept_state, FINAL, 4000 + written)
    assert read(backend, FINAL) == DATA


def test_upload_orphans_remove_leaves_blobs_and_answers_zero_when_nothing_is_stale(backend):
    put(backend, FINAL, DATA)
    upload(backend, DATA[:10], path=upload_path("young0"))

    removed = backend.upload_orphans_remove(older_than=_utc_now() - timedelta(hours=1), keep=set())

    assert removed == 0
    assert backend.exists(upload_path("young0"))
    assert read(backend, FINAL) == DATA


def test_upload_orphans_remove_takes_every_unkept_upload_before_the_cutoff_and_counts_each_once(backend):
    for name in ("gone1", "gone2"):
        upload(backend, DATA[:2000], DATA[2000:6000], path=upload_path(name))
    put(backend, FINAL, DATA)

    removed = backend.upload_orphans_remove(older_than=_utc_now() + timedelta(minutes=5), keep=[])

    assert removed == 2
    assert list(backend.list("uploads")) == []
    assert read(backend, FINAL) == DATA
