"""Redis stopped or unreachable, the object store unreachable or hung, the disk full: clean
errors, nothing half stored, reads served where they can be, recovery by itself.

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
#: A generous bound for an answer while the object store hangs: the test configures
#: 2 attempts × (2 s connect + 2 s read) per storage call; botocore's defaults (60 s read, more
#: attempts) would hold the request for minutes.
HUNG_STORE_ANSWER_S = 45


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


def _with_storage(registry: LiveRegistry, locations: dict, workers: int = 2) -> LiveRegistry:
    registry.stop()
    registry.env["MOORAGE_STORAGE_LOCATIONS"] = json.dumps(locations)
    return registry.start(workers=workers, threads=8)


def _push_image(http: requests.Session, base: str, name: str, tag: str, note: str) -> tuple[bytes, bytes, bytes]:
    """Push a small image under ``tag``; returns (manifest, config, layer)."""
    config, layer = json.dumps({"architecture": "amd64", "os": "linux", "note": note}).encode(), os.urandom(64 * 1024)
    for blob in (config, layer):
        response = http.post(f"{base}/v2/{name}/blobs/uploads/", params={"digest": digest_of(blob)}, data=blob, timeout=60)
        assert response.status_code == 201, response.text
    raw = to_bytes(image_manifest(config, [layer]))
    response = http.put(f"{base}/v2/{name}/manifests/{tag}", data=raw, headers={"Content-Type": OCI_MANIFEST}, timeout=60)
    assert response.status_code == 201, response.text
    return raw, config, layer


def test_with_redis_stopped_pushes_and_pulls_succeed_or_get_a_clean_503_and_recover_when_it_returns(registry, redis_server, tmp_path):
    _with_storage(registry, {"default": {"driver": "filesystem", "options": {"location": str(tmp_path / "blobs")}}})
    load = Load(registry.url, "faults/redis-down").start()
    http = requests.Session()
    try:
        load.wait_for(lambda: len(load.pushed) >= 3, "pushes with Redis up")
        redis_server.stop()
        down = time.monotonic()
        load.wait_for(lambda: load.count(since=down) >= 30, "requests with Redis down", timeout=120)
        # Reads do without the cache: every manifest and blob acknowledged so far pulls whole.
        with load._lock:
            pushed, blobs = dict(load.pushed), dict(load.blobs)
        for tag, raw in list(pushed.items())[:5]:
            response = http.get(f"{registry.url}/v2/faults/redis-down/manifests/{tag}", headers={"Accept": OCI_MANIFEST}, timeout=60)
            assert response.status_code == 200 and response.content == raw, f"{tag} with Redis down: {response.status_code} {response.text[:200]}"
        for digest, data in list(blobs.items())[:5]:
            response = http.get(f"{registry.url}/v2/faults/redis-down/blobs/{digest}", timeout=60)
            assert response.status_code == 200 and response.content == data, f"{digest} with Redis down: {response.status_code}"
        with load._lock:
            down_pulls = [a for a in load.answers if a.at >= down and a.kind == "manifest-pull"]
        assert down_pulls and all(a.status == 200 for a in down_pulls), [(a.status, a.body[:100]) for a in down_pulls if a.status != 200][:5]
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


def test_a_tag_moved_while_redis_was_unreachable_is_served_right_as_soon_as_redis_answers_again(registry, redis_server, tmp_path):
    """Redis behind a forwarder that is cut keeps its data, as after a network partition: the
    cached answer for the tag (the old manifest) is still in Redis when it comes back. The
    generation bump that failed during the outage is applied before the cache is read again."""
    link = TcpProxy(redis_server.port).restore()
    original = registry.env["MOORAGE_REDIS_URL"]
    registry.env["MOORAGE_REDIS_URL"] = f"redis://127.0.0.1:{link.port}/0"
    try:
        # One worker: the process that missed the invalidation is the one that answers next.
        _with_storage(registry, {"default": {"driver": "filesystem", "options": {"location": str(tmp_path / "blobs")}}}, workers=1)
        name, url = "faults/redis-partition", registry.url
        http = requests.Session()
        old, _config, old_layer = _push_image(http, url, name, "v1", "old")
        for _ in range(2):  # the second answer comes from the cache
            assert http.get(f"{url}/v2/{name}/manifests/v1", headers={"Accept": OCI_MANIFEST}).content == old
        assert http.get(f"{url}/v2/{name}/blobs/{digest_of(old_layer)}").content == old_layer

        link.cut()
        try:
            new, _config, new_layer = _push_image(http, url, name, "v1", "new")  # the tag moves
            moved = http.get(f"{url}/v2/{name}/manifests/v1", headers={"Accept": OCI_MANIFEST}, timeout=60)
            assert moved.status_code == 200 and moved.content == new, moved.text[:300]
            assert http.get(f"{url}/v2/{name}/blobs/{digest_of(new_layer)}", timeout=60).content == new_layer
        finally:
            link.restore()
        after = http.get(f"{url}/v2/{name}/manifests/v1", headers={"Accept": OCI_MANIFEST}, timeout=60)
        assert after.status_code == 200 and after.content == new, "the tag's answer cached before the outage was served"
        assert http.get(f"{url}/v2/{name}/manifests/{digest_of(old)}", headers={"Accept": OCI_MANIFEST}).content == old
        assert http.get(f"{url}/v2/{name}/blobs/{digest_of(old_layer)}").content == old_layer
        assert_fsck_clean(registry, name)
    finally:
        registry.stop()
        registry.env["MOORAGE_REDIS_URL"] = original
        link.cut()


def test_with_the_object_store_hung_requests_get_503_with_retry_after_instead_of_hanging_and_recover(registry, moto, s3_link):
    options = {
        **moto.options(location="faults-hung"), "endpoint_url": f"http://127.0.0.1:{s3_link.port}",
        "connect_timeout": 2, "read_timeout": 2, "max_attempts": 2,
    }  # fmt: skip
    _with_storage(registry, {"bucket": {"driver": "s3", "options": options}})
    name, url = "faults/s3-hung", registry.url
    http = requests.Session()
    raw, _config, layer = _push_image(http, url, name, "v1", "before")
    before = moto.keys()

    s3_link.hang()  # connections are accepted, nothing is ever answered
    try:
        lost = os.urandom(256 * 1024)
        stored = http.post(f"{url}/v2/{name}/blobs/uploads/", params={"digest": digest_of(lost)}, data=lost, timeout=HUNG_STORE_ANSWER_S)
        started = http.post(f"{url}/v2/{name}/blobs/uploads/", timeout=HUNG_STORE_ANSWER_S)
        pulled = http.get(f"{url}/v2/{name}/blobs/{digest_of(layer)}", timeout=HUNG_STORE_ANSWER_S)
        manifest = http.get(f"{url}/v2/{name}/manifests/v1", headers={"Accept": OCI_MANIFEST}, timeout=HUNG_STORE_ANSWER_S)
    finally:
        s3_link.unhang()
    for response in (stored, started, pulled):
        assert response.status_code == 503, f"{response.request.method} {response.request.url}: {response.status_code} {response.text[:300]}"
        assert response.headers["Retry-After"]
        assert response.json()["errors"][0]["code"] == "UNAVAILABLE"
    assert manifest.status_code == 200 and manifest.content == raw  # manifests live in the database

    assert not assert_blob_absent_or_whole(http, url, name, digest_of(lost), lost)
    assert moto.keys() == before
    again = http.post(f"{url}/v2/{name}/blobs/uploads/", params={"digest": digest_of(lost)}, data=lost, timeout=60)
    assert again.status_code == 201, again.text
    assert assert_blob_absent_or_whole(http, url, name, digest_of(layer), layer)
    _push_image(http, url, name, "v2", "after")
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
