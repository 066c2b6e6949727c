"""kill -9 of a server process in the middle of a blob upload and of manifest PUTs.

A crash must never leave a partial or corrupt blob or manifest visible: a blob GET is a clean
404 or the exact bytes, a manifest is there with its tag or absent, and the registry comes back
by itself (gunicorn's master replaces a killed worker; a killed server is simply started again
on the same data). A chunked upload interrupted mid-chunk keeps the chunks it had acknowledged:
its status reports them (``Range``), and once the dead request's writer lease has lapsed the
client continues from there (``uploads.writer_lease_s``; 3 s here, 15 s by default: a live
writer renews its lease while the chunk streams, so a slow one keeps it however long it takes).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from urllib.parse import urljoin, urlparse

import pytest
import requests

from tests.faults.checks import assert_blob_absent_or_whole, assert_fsck_clean, assert_no_corrupt_blob_file
from tests.live import LiveRegistry
from tests.oci.helpers import OCI_MANIFEST, digest_of, image_manifest, to_bytes

pytestmark = pytest.mark.live

MIB = 1024 * 1024
LEASE_S = 3


def _wait_until(predicate, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} did not happen in {timeout} s"
        time.sleep(0.05)


def _answers(registry: LiveRegistry) -> bool:
    try:
        return requests.get(f"{registry.url}/v2/", timeout=2).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture(scope="module")
def server():
    registry = LiveRegistry.create({"MOORAGE_UPLOADS_WRITER_LEASE_S": str(LEASE_S)})
    yield registry
    registry.destroy()


@pytest.fixture
def registry(server):
    """The module's server (one migrated database: migrations are slow on a busy machine),
    stopped before each test, which starts it the way it needs."""
    server.stop()
    return server


def test_a_worker_killed_mid_chunk_leaves_no_blob_and_the_upload_resumes_from_its_last_acknowledged_chunk(registry):
    registry.start(workers=1, threads=4)
    name = "faults/kill-upload"
    data = os.urandom(6 * MIB + 123)
    digest = digest_of(data)
    http = requests.Session()
    started = http.post(f"{registry.url}/v2/{name}/blobs/uploads/")
    assert started.status_code == 202, started.text
    location = urljoin(registry.url, started.headers["Location"])
    first = http.patch(location, data=data[:MIB], headers={"Content-Range": f"0-{MIB - 1}", "Content-Type": "application/octet-stream"})
    assert first.status_code == 202 and first.headers["Range"] == f"0-{MIB - 1}", first.text
    location = urljoin(registry.url, first.headers["Location"])
    upload_file = registry.data_dir / "blobs" / "uploads" / location.rstrip("/").rsplit("/", 1)[1] / "data"
    assert upload_file.stat().st_size == MIB

    # The second chunk: headers and half of its body, then the worker streaming it dies.
    rest = data[MIB:]
    with socket.create_connection(("127.0.0.1", registry.port)) as sock:
        path = urlparse(location).path + (f"?{urlparse(location).query}" if urlparse(location).query else "")
        sock.sendall(
            f"PATCH {path} HTTP/1.1\r\nHost: {registry.host}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {len(rest)}\r\nContent-Range: {MIB}-{len(data) - 1}\r\n\r\n".encode()
        )
        sock.sendall(rest[: 2 * MIB])
        _wait_until(lambda: upload_file.stat().st_size > MIB + 256 * 1024, "the server writing the second chunk")
        (worker,) = registry.worker_pids()
        os.kill(worker, signal.SIGKILL)
        killed_at = time.monotonic()
    _wait_until(lambda: _answers(registry) and registry.worker_pids() and worker not in registry.worker_pids(), "a new worker")

    # Nothing of the interrupted chunk is visible: no blob, and the status counts only chunk one.
    assert not assert_blob_absent_or_whole(http, registry.url, name, digest, data)
    status = http.get(location)
    assert status.status_code == 204, status.text
    assert status.headers["Range"] == f"0-{MIB - 1}"

    # The dead request still holds the upload until its lease lapses (it renewed it at most
    # when it was killed); then the client resumes.
    time.sleep(max(0.0, killed_at + LEASE_S + 0.5 - time.monotonic()))
    resumed = http.patch(location, data=rest, headers={"Content-Range": f"{MIB}-{len(data) - 1}", "Content-Type": "application/octet-stream"})
    assert resumed.status_code == 202, resumed.text
    assert resumed.headers["Range"] == f"0-{len(data) - 1}"
    done = http.put(urljoin(registry.url, resumed.headers["Location"]), params={"digest": digest})
    assert done.status_code == 201, done.text
    assert assert_blob_absent_or_whole(http, registry.url, name, digest, data)
    assert assert_no_corrupt_blob_file(registry.data_dir / "blobs") >= 1
    assert_fsck_clean(registry)


def test_a_slow_live_writer_keeps_the_upload_past_its_lease_and_a_second_writer_is_refused(registry):
    """The counterpart: a chunk that streams for twice the lease length renews its lease, so a
    competing PATCH at the same offset in the middle of it is refused with BLOB_UPLOAD_INVALID
    instead of taking the upload over, and the slow chunk completes."""
    registry.start(workers=1, threads=4)
    name = "faults/slow-writer"
    data = os.urandom(2 * MIB)
    http = requests.Session()
    location = urljoin(registry.url, http.post(f"{registry.url}/v2/{name}/blobs/uploads/").headers["Location"])
    upload_id = location.split("?")[0].rstrip("/").rsplit("/", 1)[1]
    upload_file = registry.data_dir / "blobs" / "uploads" / upload_id / "data"
    parsed = urlparse(location)
    pieces = 16
    with socket.create_connection(("127.0.0.1", registry.port)) as sock:
        sock.sendall(
            f"PATCH {parsed.path}{'?' + parsed.query if parsed.query else ''} HTTP/1.1\r\nHost: {registry.host}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {len(data)}\r\nContent-Range: 0-{len(data) - 1}\r\n\r\n".encode()
        )
        step = len(data) // pieces
        competitor = None
        for index in range(pieces):
            sock.sendall(data[index * step:(index + 1) * step])
            time.sleep(LEASE_S * 2 / pieces)
            if index == pieces * 3 // 4:  # 1.5 lease lengths after the claim
                competitor = http.patch(location, data=b"intruder", headers={"Content-Range": "0-7", "Content-Type": "application/octet-stream"})
        sock.settimeout(30)
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 202"), answer[:300]
    assert f"Range: 0-{len(data) - 1}".encode() in answer
    assert competitor is not None and competitor.status_code == 400, competitor.text
    assert competitor.json()["errors"][0]["code"] == "BLOB_UPLOAD_INVALID"
    assert upload_file.stat().st_size == len(data)
    done = http.put(location, params={"digest": digest_of(data)})
    assert done.status_code == 201, done.text
    assert assert_blob_absent_or_whole(http, registry.url, name, digest_of(data), data)
    assert_fsck_clean(registry)


def test_an_upload_interrupted_by_a_crash_may_also_be_restarted_at_once(registry):
    registry.start(workers=1, threads=4)
    name = "faults/kill-restart"
    data = os.urandom(3 * MIB)
    digest = digest_of(data)
    http = requests.Session()
    location = urljoin(registry.url, http.post(f"{registry.url}/v2/{name}/blobs/uploads/").headers["Location"])
    upload_id = location.split("?")[0].rstrip("/").rsplit("/", 1)[1]
    upload_file = registry.data_dir / "blobs" / "uploads" / upload_id / "data"
    with socket.create_connection(("127.0.0.1", registry.port)) as sock:
        parsed = urlparse(location)
        sock.sendall(
            f"PUT {parsed.path}?{parsed.query}{'&' if parsed.query else ''}digest={digest} HTTP/1.1\r\nHost: {registry.host}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {len(data)}\r\n\r\n".encode()
        )
        sock.sendall(data[:MIB])
        _wait_until(lambda: upload_file.exists() and upload_file.stat().st_size > 0, "the server writing the body")
        registry.kill()  # the whole server this time: master and workers
    registry.start(workers=1, threads=4)

    assert not assert_blob_absent_or_whole(http, registry.url, name, digest, data)
    again = http.post(f"{registry.url}/v2/{name}/blobs/uploads/", params={"digest": digest}, data=data)
    assert again.status_code == 201, again.text
    assert assert_blob_absent_or_whole(http, registry.url, name, digest, data)
    assert_no_corrupt_blob_file(registry.data_dir / "blobs")
    assert_fsck_clean(registry)


def test_manifests_put_while_the_server_is_killed_are_whole_with_their_tag_or_absent(registry):
    registry.start(workers=2, threads=8)
    name = "faults/kill-manifests"
    images = []
    for index in range(24):
        config = json.dumps({"architecture": "amd64", "os": "linux", "index": index}).encode()
        layer = os.urandom(2048)
        for blob in (config, layer):
            assert requests.post(f"{registry.url}/v2/{name}/blobs/uploads/", params={"digest": digest_of(blob)}, data=blob).status_code == 201
        images.append(to_bytes(image_manifest(config, [layer], annotations={"n": str(index), "pad": "x" * 20000})))

    acknowledged: set[int] = set()
    lock = threading.Lock()
    pending = list(range(len(images)))

    def pusher() -> None:
        with requests.Session() as session:
            while True:
                with lock:
                    if not pending:
                        return
                    index = pending.pop()
                try:
                    response = session.put(
                        f"{registry.url}/v2/{name}/manifests/t{index}", data=images[index], headers={"Content-Type": OCI_MANIFEST}, timeout=30
                    )
                except requests.RequestException:
                    continue  # the server died under this request
                if response.status_code == 201:
                    with lock:
                        acknowledged.add(index)

    threads = [threading.Thread(target=pusher) for _ in range(4)]
    for thread in threads:
        thread.start()
    _wait_until(lambda: len(acknowledged) >= 4, "some manifests acknowledged")
    registry.kill()
    for thread in threads:
        thread.join(timeout=60)
    registry.start(workers=2, threads=8)

    present = 0
    with requests.Session() as session:
        for index, raw in enumerate(images):
            by_digest = session.get(f"{registry.url}/v2/{name}/manifests/{digest_of(raw)}", headers={"Accept": OCI_MANIFEST})
            by_tag = session.get(f"{registry.url}/v2/{name}/manifests/t{index}", headers={"Accept": OCI_MANIFEST})
            if index in acknowledged:
                assert by_digest.status_code == 200, f"t{index} was acknowledged (201) but is gone after the crash"
            if by_digest.status_code == 200:
                present += 1
                assert by_digest.content == raw
                assert by_tag.status_code == 200 and by_tag.content == raw, f"t{index}: the manifest is there, its tag is not"
            else:
                assert by_digest.status_code == 404 and by_digest.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
                assert by_tag.status_code == 404
                # What the crash lost, the client pushes again.
                again = session.put(f"{registry.url}/v2/{name}/manifests/t{index}", data=raw, headers={"Content-Type": OCI_MANIFEST})
                assert again.status_code == 201, again.text
    assert present >= len(acknowledged)
    assert_no_corrupt_blob_file(registry.data_dir / "blobs")
    assert_fsck_clean(registry)
