"""Clients that get an early answer to an upload and then keep their connection open and idle must
not pin server threads: with every thread of the server pinned, the registry would stop answering."""

from __future__ import annotations

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
