"""Redis stopped, the object store unavailable, the disk full: clean errors, nothing half
stored, recovery by itself.

One server (one migrated database) for the module, restarted with each case's configuration:
Redis is the cache and the Celery broker, storage is an S3 bucket (moto on loopback) or a small
tmpfs. fsck runs per case's repository (the earlier cases' locations are no longer configured).
"""

from __future__ import annotations

import json
import os
import time

import pytest
import requests

from tests.faults.checks import assert_blob_absent_or_whole, assert_fsck_clean, assert_no_corrupt_blob_file
from tests.faults.load import Load, assert_everything_acknowledged_pulls
from tests.faults.services import MotoServer, PrivateRedis, TcpProxy, Tmpfs
from tests.live import LiveRegistry
from tests.oci.helpers import OCI_MANIFEST, digest_of, image_manifest, to_bytes

pytestmark = pytest.mark.live

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def redis_server():
    server = PrivateRedis().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def moto():
    server = MotoServer().start()
    yield server
    server.stop()


@pytest.fixture
def s3_link(moto):
    """The registry's way to the bucket, which the test may cut."""
    proxy = TcpProxy(moto.port).restore()
    yield proxy
    proxy.cut()


@pytest.fixture(scope="module")
def registry(redis_server):
    registry = LiveRegistry.create({"MOORAGE_REDIS_URL": redis_server.url})
    yield registry
    registry.destroy()


def _with_storage(registry: LiveRegistry, locations: dict) -> LiveRegistry:
    registry.stop()
    registry.env["MOORAGE_STORAGE_LOCATIONS"] = json.dumps(locations)
    return registry.start(workers=2, threads=8)


def test_with_redis_stopped_pushes_and_pulls_succeed_or_get_a_clean_503_and_recover_when_it_returns(registry, redis_server, tmp_path):
    _with_storage(registry, {"default": {"driver": "filesystem", "options": {"location": str(tmp_path / "blobs")}}})
    load = Load(registry.url, "faults/redis-down").start()
    try:
        load.wait_for(lambda: len(load.pushed) >= 3, "pushes with Redis up")
        redis_server.stop()
        down = time.monotonic()
        load.wait_for(lambda: load.count(since=down) >= 30, "requests with Redis down", timeout=120)
        redis_server.start()
        up = time.monotonic()
        load.wait_for(lambda: load.successes_since(up) >= 20, "requests after Redis is back", timeout=120)
        after = len(load.pushed)
        load.wait_for(lambda: len(load.pushed) >= after + 3, "pushes after Redis is back", timeout=120)
    finally:
        load.stop()
    assert load.bad_answers() == [], f"answers other than success or a clean 503: {load.bad_answers()[:5]}"
    assert_everything_acknowledged_pulls(load)
    assert_no_corrupt_blob_file(tmp_path / "blobs")
    assert_fsck_clean(registry, "faults/redis-down")


def test_with_the_object_store_unreachable_writes_get_503_with_retry_after_and_nothing_is_recorded_as_stored(registry, moto, s3_link):
    options = {**moto.options(location="faults"), "endpoint_url": f"http://127.0.0.1:{s3_link.port}"}
    _with_storage(registry, {"bucket": {"driver": "s3", "options": options}})
    name = "faults/s3-down"
    http = requests.Session()
    config, layer = b'{"architecture":"amd64","os":"linux"}', os.urandom(64 * 1024)
    for blob in (config, layer):
        assert http.post(f"{registry.url}/v2/{name}/blobs/uploads/", params={"digest": digest_of(blob)}, data=blob).status_code == 201
    raw = to_bytes(image_manifest(config, [layer]))
    assert http.put(f"{registry.url}/v2/{name}/manifests/v1", data=raw, headers={"Content-Type": OCI_MANIFEST}).status_code == 201
    before = moto.keys()

    s3_link.cut()  # connections to the store are refused
    try:
        lost = os.urandom(256 * 1024)
        stored = http.post(f"{registry.url}/v2/{name}/blobs/uploads/", params={"digest": digest_of(lost)}, data=lost, timeout=120)
        started = http.post(f"{registry.url}/v2/{name}/blobs/uploads/", timeout=120)
        pulled = http.get(f"{registry.url}/v2/{name}/blobs/{digest_of(layer)}", timeout=120)
    finally:
        s3_link.restore()
    for response in (stored, started):
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"]
        assert response.json()["errors"][0]["code"] == "UNAVAILABLE"
    assert pulled.status_code in (200, 307, 503)  # a redirect needs no call to the store
    if pulled.status_code == 503:
        assert pulled.headers["Retry-After"]

    # Nothing was recorded as stored: the blob is unknown, and it uploads fine now.
    assert not assert_blob_absent_or_whole(http, registry.url, name, digest_of(lost), lost)
    assert moto.keys() == before
    again = http.post(f"{registry.url}/v2/{name}/blobs/uploads/", params={"digest": digest_of(lost)}, data=lost)
    assert again.status_code == 201, again.text
    assert http.get(f"{registry.url}/v2/{name}/manifests/v1", headers={"Accept": OCI_MANIFEST}).content == raw
    assert_fsck_clean(registry, name)


def test_with_the_disk_full_an_upload_gets_a_clear_error_leaves_no_partial_blob_and_succeeds_once_space_is_freed(registry):
    disk = Tmpfs(size=4 * MIB).mount()
    try:
        _with_storage(registry, {"default": {"driver": "filesystem", "options": {"location": str(disk.path / "blobs")}}})
        name = "faults/disk-full"
        http = requests.Session()
        filler = disk.path / "filler"
        small = os.urandom(512 * 1024)
        assert http.post(f"{registry.url}/v2/{name}/blobs/uploads/", params={"digest": digest_of(small)}, data=small).status_code == 201
        filler.write_bytes(b"\0" * (3 * MIB))  # someone else fills the disk

        big = os.urandom(2 * MIB)
        full = http.post(f"{registry.url}/v2/{name}/blobs/uploads/", params={"digest": digest_of(big)}, data=big, timeout=60)
        assert full.status_code in (503, 507), full.text
        assert full.headers.get("Retry-After")
        error = full.json()["errors"][0]
        assert error["code"] == "UNAVAILABLE" and "space" in json.dumps(error).lower(), error
        assert not assert_blob_absent_or_whole(http, registry.url, name, digest_of(big), big)
        assert assert_blob_absent_or_whole(http, registry.url, name, digest_of(small), small)
        assert assert_no_corrupt_blob_file(disk.path / "blobs") == 1

        filler.unlink()
        again = http.post(f"{registry.url}/v2/{name}/blobs/uploads/", params={"digest": digest_of(big)}, data=big, timeout=60)
        assert again.status_code == 201, again.text
        assert assert_blob_absent_or_whole(http, registry.url, name, digest_of(big), big)
        assert assert_no_corrupt_blob_file(disk.path / "blobs") == 2
        assert_fsck_clean(registry, name)
    finally:
        registry.stop()
        disk.destroy()
