"""Clients that send headers and part of a body, then nothing (``server.body_idle_timeout_s``).

gunicorn reads requests with blocking sockets: before the idle timeout, each such client held a
worker thread for good, and a handful froze the server. The server here has one worker with two
threads and an idle timeout of 2 s; twice as many clients as threads stall at once.
"""

from __future__ import annotations

import os
import socket
import time

import pytest
import requests

from tests.hostile.raw import request_head
from tests.live import LiveRegistry
from tests.oci.helpers import OCI_MANIFEST, digest_of, image_manifest, to_bytes

pytestmark = pytest.mark.live

THREADS = 2
#: generous: the server gives up on a silent client after 2 s
CLOSED_WITHIN_S = 60


@pytest.fixture(scope="module")
def registry():
    registry = LiveRegistry.create({"MOORAGE_SERVER_BODY_IDLE_TIMEOUT_S": "2"}).start(workers=1, threads=THREADS)
    yield registry
    registry.destroy()


def _stall(port: int, head: bytes, part: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=CLOSED_WITHIN_S)
    sock.sendall(head + part)
    return sock  # and nothing more


def _read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection; fails if it does not within
    ``CLOSED_WITHIN_S``."""
    received = b""
    deadline = time.monotonic() + CLOSED_WITHIN_S
    with sock:
        while True:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                return received
            except TimeoutError:
                pytest.fail(f"the server kept a stalled connection open for {CLOSED_WITHIN_S} s (got {received[:200]!r})")
            if not data:
                return received
            received += data


def _path(url: str, location: str) -> str:
    return location[len(url):] if location.startswith("http") else location


def _upload_with_one_chunk(http: requests.Session, url: str, name: str, data: bytes) -> str:
    start = http.post(f"{url}/v2/{name}/blobs/uploads/")
    assert start.status_code == 202, start.text
    chunk = http.patch(f"{url}{_path(url, start.headers['Location'])}", data=data,
                       headers={"Content-Type": "application/octet-stream", "Content-Range": f"0-{len(data) - 1}"})
    assert chunk.status_code == 202, chunk.text
    return _path(url, chunk.headers["Location"])


def test_stalled_bodies_free_their_threads_close_their_connections_and_keep_nothing(registry):
    url, port, name = registry.url, registry.port, "faults/stalled"
    http = requests.Session()
    first, second, lost = os.urandom(64 * 1024), os.urandom(64 * 1024), os.urandom(64 * 1024)
    upload = _upload_with_one_chunk(http, url, name, first)
    other_upload = _upload_with_one_chunk(http, url, name, os.urandom(1000))
    manifest = to_bytes(image_manifest(b'{"os":"linux"}', [first]))

    chunk_range = f"{len(first)}-{len(first) + len(second) - 1}"
    stalled = [
        _stall(port, request_head("PATCH", upload, {  # a chunk of a resumable upload
            "Content-Type": "application/octet-stream", "Content-Length": str(len(second)), "Content-Range": chunk_range,
        }), second[:1000]),
        _stall(port, request_head("POST", f"/v2/{name}/blobs/uploads/?digest={digest_of(lost)}", {  # a monolithic upload
            "Content-Type": "application/octet-stream", "Content-Length": str(len(lost)),
        }), lost[:1000]),
        _stall(port, request_head("PUT", f"/v2/{name}/manifests/never", {  # a manifest
            "Content-Type": OCI_MANIFEST, "Content-Length": str(len(manifest)),
        }), manifest[:100]),
        _stall(port, request_head("PATCH", other_upload, {  # a chunked transfer encoding
            "Content-Type": "application/octet-stream", "Transfer-Encoding": "chunked",
        }), b"4000\r\n" + second[:500]),
        _stall(port, b"GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ", b""),  # headers that never end
    ]  # fmt: skip
    assert len(stalled) > THREADS

    # Other clients are answered although every thread was taken by a silent client.
    assert http.get(f"{url}/v2/", timeout=CLOSED_WITHIN_S).status_code in (200, 401)

    answers = [_read_until_closed(sock) for sock in stalled]
    for answer in answers[:-1]:  # a body that stopped: 408, and the connection closed
        assert answer.startswith(b"HTTP/1.1 408"), answer[:300]
        assert b"connection: close" in answer.lower(), answer[:300]
    assert answers[-1] == b""  # headers that never ended: closed without an answer

    # Nothing of the stalled bodies was kept: each upload is where its last complete chunk left it.
    status = http.get(f"{url}{upload}")
    assert status.status_code == 204 and status.headers["Range"] == f"0-{len(first) - 1}", (status.status_code, status.headers)
    assert http.get(f"{url}{other_upload}").headers["Range"] == "0-999"
    assert http.get(f"{url}/v2/{name}/manifests/never", headers={"Accept": OCI_MANIFEST}).status_code == 404
    assert http.head(f"{url}/v2/{name}/blobs/{digest_of(lost)}").status_code == 404

    # ... and the upload resumes from there.
    resumed = http.patch(f"{url}{upload}", data=second, headers={"Content-Type": "application/octet-stream", "Content-Range": chunk_range})
    assert resumed.status_code == 202, resumed.text
    done = http.put(f"{url}{_path(url, resumed.headers['Location'])}", params={"digest": digest_of(first + second)})
    assert done.status_code == 201, done.text
    assert http.get(f"{url}/v2/{name}/blobs/{digest_of(first + second)}").content == first + second

    log = registry.log_path.read_text()
    assert "Traceback" not in log and "Internal Server Error" not in log, log[-5000:]
