"""GCS specifics of the storage adapter (gcp-storage-emulator on loopback): part objects and
compose (past compose's 32 sources), persisted state, straddling parts, V4-signed URLs with a
service-account key file, orphaned part objects, the ``gcs`` driver.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import override_settings

from storagebackends import gcs
from storagebackends.base import StorageError
from storagebackends.paths import blob_path, upload_path
from storagebackends.registry import get_location, reset_cache
from tests.factories import digest_of

MiB = 1024 * 1024
UPLOAD = upload_path("gcsparts")


class Boom(Exception):
    """A client that went away mid-body."""


def failing(*chunks: bytes) -> Iterator[bytes]:
    yield from chunks
    raise Boom


def read(backend, path: str, offset: int = 0) -> bytes:
    with backend.open(path, offset) as handle:
        return handle.read()


def roundtrip(state: dict) -> dict:
    return json.loads(json.dumps(state))


def object_names(gcs_emulator, backend) -> list[str]:
    prefix = f"{backend.storage.location}/"
    return sorted(blob.name[len(prefix) :] for blob in gcs_emulator.client().list_blobs(gcs_emulator.bucket, prefix=prefix))


@pytest.fixture
def key_file(tmp_path: Path) -> str:
    """A service-account key file (a fresh RSA key): enough to sign URLs locally."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path = tmp_path / "service-account.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "moorage-test",
                "private_key_id": "test",
                "private_key": pem.decode(),
                "client_email": "moorage@moorage-test.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": "http://127.0.0.1:9/token",
            }
        )
    )
    return str(path)


def test_appends_crossing_part_boundaries_commit_the_exact_bytes_and_read_back_from_offsets(gcs_backend_factory):
    backend = gcs_backend_factory()
    data = os.urandom(2 * gcs.PART + 12345)
    chunks = [data[: 700 * 1024], data[700 * 1024 : 700 * 1024 + gcs.PART + 5], data[700 * 1024 + gcs.PART + 5 :]]
    state = backend.upload_begin(UPLOAD)
    offset = 0
    for chunk in chunks:
        written, state = backend.upload_append(UPLOAD, roundtrip(state), offset, [chunk])
        offset += written

    final = blob_path(digest_of(data))
    backend.upload_commit(UPLOAD, roundtrip(state), final, len(data))

    assert all(size <= gcs.PART for _path, size in state["gcs_parts"])
    assert read(backend, final) == data
    assert read(backend, final, offset=gcs.PART + 7) == data[gcs.PART + 7 :]


def test_more_parts_than_one_compose_takes_are_composed_in_rounds(gcs_backend_factory, gcs_emulator, monkeypatch):
    monkeypatch.setattr(gcs, "PART", 1000)
    backend = gcs_backend_factory()
    data = os.urandom(70 * 1000 + 17)  # 71 parts: three intermediate composes, then the final one
    state = backend.upload_begin(UPLOAD)
    _written, state = backend.upload_append(UPLOAD, state, 0, [data])
    assert len(state["gcs_parts"]) == 71

    backend.upload_commit(UPLOAD, state, "blobs/composed", len(data))

    assert read(backend, "blobs/composed") == data
    assert object_names(gcs_emulator, backend) == ["blobs/composed"]


def test_an_upload_resumes_from_persisted_state_in_a_fresh_adapter(gcs_backend_factory):
    data = os.urandom(3 * MiB)
    first = gcs_backend_factory()
    state = first.upload_begin(UPLOAD)
    written, state = first.upload_append(UPLOAD, state, 0, [data[:MiB]])

    second = gcs_backend_factory()
    assert second.stat(UPLOAD).size == MiB
    more, state = second.upload_append(UPLOAD, roundtrip(state), written, [data[MiB:]])
    gcs_backend_factory().upload_commit(UPLOAD, roundtrip(state), "blobs/resumed", written + more)

    assert read(second, "blobs/resumed") == data


def test_a_failed_append_that_wrote_a_part_leaves_the_size_and_its_part_is_not_composed(gcs_backend_factory, gcs_emulator, monkeypatch):
    monkeypatch.setattr(gcs, "PART", 4096)
    backend = gcs_backend_factory()
    data = os.urandom(10_000)
    state = backend.upload_begin(UPLOAD)
    _written, state = backend.upload_append(UPLOAD, state, 0, [data[:1000]])

    with pytest.raises(Boom):
        backend.upload_append(UPLOAD, state, 1000, failing(b"\0" * 5000))

    assert backend.stat(UPLOAD).size == 1000
    assert len([name for name in object_names(gcs_emulator, backend) if "/part-" in name]) == 2
    written, state = backend.upload_append(UPLOAD, state, 1000, [data[1000:]])
    backend.upload_commit(UPLOAD, state, "blobs/after-failure", 1000 + written)
    assert read(backend, "blobs/after-failure") == data
    assert object_names(gcs_emulator, backend) == ["blobs/after-failure"]


def test_an_upload_in_progress_cannot_be_read_back_as_a_blob(gcs_backend_factory):
    backend = gcs_backend_factory()
    state = backend.upload_begin(UPLOAD)
    backend.upload_append(UPLOAD, state, 0, [b"abc"])

    with pytest.raises(StorageError):
        backend.open(UPLOAD)


def test_write_atomic_of_a_large_object_composes_parts_and_a_failure_leaves_no_parts(gcs_backend_factory, gcs_emulator, monkeypatch):
    monkeypatch.setattr(gcs, "PART", 1000)
    backend = gcs_backend_factory()
    data = os.urandom(5500)
    assert backend.write_atomic("blobs/large", [data[:100], data[100:]]) == len(data)
    assert read(backend, "blobs/large") == data

    with pytest.raises(Boom):
        backend.write_atomic("blobs/large", failing(b"\1" * 3000))

    assert read(backend, "blobs/large") == data
    assert object_names(gcs_emulator, backend) == ["blobs/large"]


def test_redirect_url_is_v4_signed_with_a_key_file_and_downloads_the_object(gcs_backend_factory, gcs_emulator, key_file):
    # Signing is local (no API call); the emulator's API takes anonymous writes, not a token
    # from this made-up key, so the object is written by an anonymous adapter.
    gcs_backend_factory().write_atomic("blobs/shared", [b"signed bytes"])
    backend = gcs_backend_factory(direct_download=True, credentials=key_file)

    url = backend.redirect_url("blobs/shared", expires_in=120)

    query = parse_qs(urlparse(url).query)
    assert url.startswith(f"{gcs_emulator.endpoint}/{gcs_emulator.bucket}/{backend.storage.location}/blobs/shared?")
    assert query["X-Goog-Expires"] == ["120"] and query["X-Goog-Algorithm"] == ["GOOG4-RSA-SHA256"]
    assert requests.get(url, timeout=10).content == b"signed bytes"
    assert gcs_backend_factory(credentials=key_file).redirect_url("blobs/shared", expires_in=120) is None


def test_orphan_removal_deletes_part_objects_of_stale_uploads_only(gcs_backend_factory, gcs_emulator):
    backend = gcs_backend_factory()
    for name in ("stale1", "live1"):
        state = backend.upload_begin(upload_path(name))
        backend.upload_append(upload_path(name), state, 0, [b"x" * 5000, b"y" * 10])

    removed = backend.upload_orphans_remove(
        older_than=datetime.now(timezone.utc) + timedelta(minutes=1), keep={upload_path("live1")}
    )

    assert removed == 1
    names = object_names(gcs_emulator, backend)
    assert names and all(name.startswith("uploads/live1/") for name in names)


def test_the_gcs_driver_builds_a_location_from_django_storages_options(gcs_emulator):
    locations = {"gs": {"driver": "gcs", "options": gcs_emulator.options(location="driver-test")}}
    reset_cache()
    try:
        with override_settings(MOORAGE_STORAGE_LOCATIONS=locations, MOORAGE_STORAGE_PREFERENCE=["gs"]):
            backend = get_location("gs")
            backend.write_atomic("blobs/from-settings", [b"configured"])
            assert read(backend, "blobs/from-settings") == b"configured"
            assert backend.redirect_url("blobs/from-settings", expires_in=60) is None  # direct_download off
    finally:
        reset_cache()
    names = [blob.name for blob in gcs_emulator.client().list_blobs(gcs_emulator.bucket, prefix="driver-test/")]
    assert names == ["driver-test/blobs/from-settings"]


def test_an_unreachable_store_fails_with_storage_error_within_seconds(gcs_backend_factory):
    from tests.live import free_port

    dead = gcs_backend_factory(api_endpoint=f"http://127.0.0.1:{free_port()}")  # nothing listens there
    started = time.monotonic()

    with pytest.raises(StorageError):
        dead.stat("blobs/x")

    assert time.monotonic() - started < 40  # the client's default retry deadline is 120 s per call
