"""Azure specifics of the storage adapter (Azurite on loopback): staged blocks, persisted state,
straddling blocks, SAS URLs, uncommitted blocks of orphaned uploads, the ``azure`` driver.

The generic contract runs against Azure too (conftest.BACKENDS); these cases cross the block
size the contract's small objects never reach.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta, timezone
from typing import Iterator
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from django.test import override_settings

from storagebackends import azure
from storagebackends.base import StorageError
from storagebackends.paths import blob_path, upload_path
from storagebackends.registry import get_location, reset_cache
from tests.factories import digest_of

MiB = 1024 * 1024
UPLOAD = upload_path("azblocks")


class Boom(Exception):
    """A client that went away mid-body."""


def failing(*chunks: bytes) -> Iterator[bytes]:
    yield from chunks
    raise Boom


def read(backend, path: str, offset: int = 0) -> bytes:
    with backend.open(path, offset) as handle:
        return handle.read()


def roundtrip(state: dict) -> dict:
    """What the upload row's JSON column gives back."""
    return json.loads(json.dumps(state))


def blob_names(azurite, backend, *, uncommitted: bool = True) -> list[str]:
    include = ["uncommittedblobs"] if uncommitted else []
    prefix = f"{backend.storage.location}/"
    return [blob.name[len(prefix) :] for blob in azurite.container_client().list_blobs(name_starts_with=prefix, include=include)]


def uncommitted_blocks(azurite, backend, path: str) -> int:
    client = azurite.container_client().get_blob_client(f"{backend.storage.location}/{path}")
    _committed, uncommitted = client.get_block_list("uncommitted")
    return len(uncommitted)


def test_appends_crossing_block_boundaries_commit_the_exact_bytes_and_read_back_from_offsets(azure_backend_factory):
    backend = azure_backend_factory()
    data = os.urandom(2 * azure.BLOCK + 12345)
    chunks = [data[:700 * 1024], data[700 * 1024 : 700 * 1024 + azure.BLOCK + 5], data[700 * 1024 + azure.BLOCK + 5 :]]
    state = backend.upload_begin(UPLOAD)
    offset = 0
    for chunk in chunks:
        written, state = backend.upload_append(UPLOAD, roundtrip(state), offset, [chunk])
        offset += written

    final = blob_path(digest_of(data))
    backend.upload_commit(UPLOAD, roundtrip(state), final, len(data))

    assert all(size <= azure.BLOCK for _id, size in state["azure_blocks"])
    assert read(backend, final) == data
    assert read(backend, final, offset=azure.BLOCK + 7) == data[azure.BLOCK + 7 :]
    assert backend.stat(final).size == len(data)


def test_open_streams_in_bounded_ranged_reads(azure_backend_factory):
    backend = azure_backend_factory()
    data = os.urandom(9 * MiB)
    backend.write_atomic("blobs/big", [data])

    with backend.open("blobs/big", 5) as handle:
        first = handle.read(1000)
        buffered = len(handle._buffer)  # one window at most, not the whole object
        rest = handle.read()

    assert first + rest == data[5:]
    assert buffered <= 4 * MiB


def test_an_upload_resumes_from_persisted_state_in_a_fresh_adapter(azure_backend_factory):
    data = os.urandom(3 * MiB)
    first = azure_backend_factory()
    state = first.upload_begin(UPLOAD)
    written, state = first.upload_append(UPLOAD, state, 0, [data[:MiB]])

    second = azure_backend_factory()  # another process: only the upload row's state carries over
    assert second.stat(UPLOAD).size == MiB
    more, state = second.upload_append(UPLOAD, roundtrip(state), written, [data[MiB:]])
    azure_backend_factory().upload_commit(UPLOAD, roundtrip(state), "blobs/resumed", written + more)

    assert read(second, "blobs/resumed") == data


def test_a_failed_append_that_staged_blocks_leaves_the_size_and_its_blocks_are_dropped(azure_backend_factory, azurite):
    backend = azure_backend_factory()
    data = os.urandom(MiB)
    state = backend.upload_begin(UPLOAD)
    _written, state = backend.upload_append(UPLOAD, state, 0, [data[:1000]])

    with pytest.raises(Boom):
        backend.upload_append(UPLOAD, state, 1000, failing(b"\0" * (azure.BLOCK + 1)))

    assert backend.stat(UPLOAD).size == 1000
    assert uncommitted_blocks(azurite, backend, UPLOAD) == 2  # ours and the failed append's full block
    written, state = backend.upload_append(UPLOAD, state, 1000, [data[1000:]])
    backend.upload_commit(UPLOAD, state, "blobs/after-failure", 1000 + written)
    assert read(backend, "blobs/after-failure") == data


def test_a_commit_inside_a_block_restages_its_head(azure_backend_factory, azurite):
    backend = azure_backend_factory()
    data = os.urandom(100_000)
    state = backend.upload_begin(UPLOAD)
    _written, state = backend.upload_append(UPLOAD, state, 0, [data[:40_000]])
    _written, state = backend.upload_append(UPLOAD, state, 40_000, [data[40_000:] + b"garbage past the size"])

    backend.upload_commit(UPLOAD, state, "blobs/straddled", len(data))

    assert read(backend, "blobs/straddled") == data
    assert blob_names(azurite, backend) == ["blobs/straddled"]


def test_a_commit_retried_after_the_block_list_was_committed_still_makes_the_blob(azure_backend_factory):
    backend = azure_backend_factory()
    data = os.urandom(50_000)
    state = backend.upload_begin(UPLOAD)
    _written, state = backend.upload_append(UPLOAD, state, 0, [data + b"extra"])
    # A first commit got as far as the block list (with the straddling block restaged), then failed.
    backend._remote._commit_blocks(backend._remote._blob(UPLOAD), UPLOAD, state["azure_blocks"], len(data))

    backend.upload_commit(UPLOAD, state, "blobs/retried", len(data))

    assert read(backend, "blobs/retried") == data
    assert not backend.exists(UPLOAD)


def test_an_upload_in_progress_cannot_be_read_back_as_a_blob(azure_backend_factory):
    backend = azure_backend_factory()
    state = backend.upload_begin(UPLOAD)
    backend.upload_append(UPLOAD, state, 0, [b"abc"])

    with pytest.raises(StorageError):
        backend.open(UPLOAD)


def test_write_atomic_of_a_large_object_commits_blocks_and_a_failure_keeps_the_previous_one(azure_backend_factory):
    backend = azure_backend_factory()
    data = os.urandom(azure.BLOCK + 100)
    assert backend.write_atomic("blobs/large", [data[:MiB], data[MiB:]]) == len(data)
    assert read(backend, "blobs/large") == data

    with pytest.raises(Boom):
        backend.write_atomic("blobs/large", failing(b"\1" * (azure.BLOCK + 1)))

    assert read(backend, "blobs/large") == data


def test_redirect_url_is_a_short_lived_read_sas_only_with_direct_download(azure_backend_factory, azurite):
    backend = azure_backend_factory(direct_download=True)
    backend.write_atomic("blobs/shared", [b"signed bytes"])

    url = backend.redirect_url("blobs/shared", expires_in=120)

    parsed = urlparse(url)
    assert url.startswith(f"{azurite.blob_endpoint}/{azurite.container}/{backend.storage.location}/blobs/shared?")
    query = parse_qs(parsed.query)
    assert query["sp"] == ["r"] and "sig" in query
    expiry = datetime.fromisoformat(query["se"][0].replace("Z", "+00:00"))
    assert timedelta(0) < expiry - datetime.now(timezone.utc) <= timedelta(seconds=125)
    assert requests.get(url, timeout=10).content == b"signed bytes"
    assert requests.get(url.split("?")[0], timeout=10).status_code in (401, 403, 404)  # no SAS, no read
    assert azure_backend_factory(direct_download=False).redirect_url("blobs/shared", expires_in=120) is None


def test_orphan_removal_deletes_staged_uncommitted_blocks(azure_backend_factory, azurite):
    backend = azure_backend_factory()
    state = backend.upload_begin(UPLOAD)
    backend.upload_append(UPLOAD, state, 0, [os.urandom(azure.BLOCK + 10)])
    # An upload blob with nothing committed at all (its begin lost): invisible to list, still billed.
    stray = azurite.container_client().get_blob_client(f"{backend.storage.location}/uploads/stray/data")
    stray.stage_block(azure._block_id(), b"staged only")
    assert uncommitted_blocks(azurite, backend, UPLOAD) == 2

    removed = backend.upload_orphans_remove(older_than=datetime.now(timezone.utc) + timedelta(minutes=1), keep=set())

    assert removed == 2
    assert blob_names(azurite, backend) == []


def test_the_azure_driver_builds_a_location_from_django_storages_options(azurite):
    locations = {"az": {"driver": "azure", "direct_download": True, "options": azurite.options(location="driver-test")}}
    reset_cache()
    try:
        with override_settings(MOORAGE_STORAGE_LOCATIONS=locations, MOORAGE_STORAGE_PREFERENCE=["az"]):
            backend = get_location("az")
            backend.write_atomic("blobs/from-settings", [b"configured"])
            assert read(backend, "blobs/from-settings") == b"configured"
            assert backend.redirect_url("blobs/from-settings", expires_in=60) is not None
    finally:
        reset_cache()
    names = [blob.name for blob in azurite.container_client().list_blobs(name_starts_with="driver-test/")]
    assert names == ["driver-test/blobs/from-settings"]


def test_an_unreachable_store_fails_with_storage_error_within_seconds(azure_backend_factory, azurite):
    from tests.live import free_port

    port = free_port()  # nothing listens there
    dead = azure_backend_factory(connection_string=azurite.connection_string.replace(azurite.blob_endpoint, f"http://127.0.0.1:{port}/devstoreaccount1"))
    started = time.monotonic()

    with pytest.raises(StorageError):
        dead.write_atomic("blobs/x", [b"data"])

    assert time.monotonic() - started < 20  # the SDK's default retries take ~80 s per call
