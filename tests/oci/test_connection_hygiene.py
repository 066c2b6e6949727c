"""Clients that get an early answer to an upload and then keep their connection open and idle must
not pin server threads: with every thread of the server pinned, the registry would stop answering."""

from __future__ import annotations

import json
import socket

import pytest
import requests

from tests.live import LiveRegistry

pytestmark = pytest.mark.live

THREADS = 2


@pytest.fixture(scope="module")
def small_registry():
    registry = LiveRegistry.create().start(workers=1, threads=THREADS)
    yield registry
    registry.destroy()


def _patch_unknown_upload_and_stay_idle(registry: LiveRegistry, body_size: int) -> socket.socket:
    """PATCH a whole body to an upload that does not exist (answered 404 without reading the
    body), read the answer, and keep the connection open without sending anything more."""
    sock = socket.create_connection(("127.0.0.1", registry.port), timeout=10)
    head = (
        f"PATCH /v2/hygiene/app/blobs/uploads/{'0' * 32} HTTP/1.1\r\nHost: {registry.host}\r\n"
        f"Content-Type: application/octet-stream\r\nContent-Length: {body_size}\r\n\r\n"
    ).encode()
    sock.sendall(head + b"x" * body_size)
    answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 404"), answer[:200]
    return sock


def test_idle_connections_after_early_answers_do_not_starve_the_server(small_registry):
    idle = [_patch_unknown_upload_and_stay_idle(small_registry, 512 * 1024) for _ in range(THREADS + 2)]
    try:
        # Every thread would be parked on one of those connections; a new client must still get in.
        response = requests.get(f"{small_registry.url}/v2/", timeout=10)
        assert response.status_code == 200
    finally:
        for sock in idle:
            sock.close()


def test_an_early_answer_closes_the_connection_and_arrives_whole(small_registry):
    """The answer says so, and a client that sent less than it declared still reads all of it."""
    with socket.create_connection(("127.0.0.1", small_registry.port), timeout=10) as sock:
        sock.sendall(
            f"PATCH /v2/hygiene/app/blobs/uploads/{'1' * 32} HTTP/1.1\r\nHost: {small_registry.host}\r\n"
            "Content-Type: application/octet-stream\r\nContent-Length: 1048576\r\n\r\n".encode() + b"x" * 1000
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 404") and b"Connection: close" in head
    length = int(next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")).split(b":")[1])
    assert len(body) == length and json.loads(body)["errors"][0]["code"] in ("NAME_UNKNOWN", "BLOB_UPLOAD_UNKNOWN")


def test_a_fully_read_upload_keeps_its_connection(small_registry):
    with requests.Session() as session:
        started = session.post(f"{small_registry.url}/v2/hygiene/app/blobs/uploads/")
        assert started.status_code == 202
        patched = session.patch(f"{small_registry.url}{started.headers['Location']}", data=b"y" * 4096)
        assert patched.status_code == 202 and patched.headers.get("Connection", "").lower() != "close"
