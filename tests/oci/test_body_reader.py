"""The blob body reader (``gunicorn_conf._DirectLengthInput.readinto``): a Content-Length body is
read from the socket into one reused buffer, starting with the bytes gunicorn read along with the
headers and never past the body, so the next request on a keep-alive connection stays intact."""

from __future__ import annotations

import hashlib
import os
import socket

import pytest

pytestmark = pytest.mark.live

#: more than one 1 MiB read buffer (``uploads.chunk_bytes``), not a multiple of it
BODY_SIZE = (5 << 19) + 123


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _read_answer(stream) -> tuple[int, dict[str, str], bytes]:
    status = int(stream.readline().split()[1])
    headers = {}
    while (line := stream.readline()) not in (b"\r\n", b""):
        key, _, value = line.decode().partition(":")
        headers[key.strip().lower()] = value.strip()
    return status, headers, stream.read(int(headers.get("content-length", 0)))


def _pipelined(live_registry, method: str, path: str, body: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """``method path`` with ``body``, then GET /v2/, written in one go on one connection."""
    upload = (
        f"{method} {path} HTTP/1.1\r\nHost: {live_registry.host}\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    follow = f"GET /v2/ HTTP/1.1\r\nHost: {live_registry.host}\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", live_registry.port), timeout=30) as sock:
        sock.sendall(upload + body + follow)
        stream = sock.makefile("rb")
        return [_read_answer(stream), _read_answer(stream)]


def test_a_pipelined_chunk_is_stored_exactly_and_the_next_request_is_answered(live_registry, http, registry, name):
    body = os.urandom(BODY_SIZE)
    started = http.post(f"{registry}/v2/{name}/blobs/uploads/")
    assert started.status_code == 202
    location = started.headers["Location"].removeprefix(registry)

    (status, headers, _), (follow_status, _, _) = _pipelined(live_registry, "PATCH", location, body)

    assert status == 202 and headers["range"] == f"0-{BODY_SIZE - 1}"
    assert headers.get("connection", "").lower() != "close"
    assert follow_status == 200
    separator = "&" if "?" in headers["location"] else "?"
    done = http.put(f"{registry}{headers['location'].removeprefix(registry)}{separator}digest={_digest(body)}")
    assert done.status_code == 201, done.text
    assert http.get(f"{registry}/v2/{name}/blobs/{_digest(body)}").content == body


def test_a_pipelined_monolithic_push_is_stored_exactly_and_the_next_request_is_answered(live_registry, http, name):
    body = os.urandom(BODY_SIZE)

    (status, _, answer), (follow_status, _, _) = _pipelined(
        live_registry, "POST", f"/v2/{name}/blobs/uploads/?digest={_digest(body)}", body
    )

    assert status == 201, answer[:300]
    assert follow_status == 200
    assert http.get(f"{live_registry.url}/v2/{name}/blobs/{_digest(body)}").content == body


def test_a_tiny_body_arriving_with_its_headers_is_read_whole_and_the_connection_kept(live_registry, http, name):
    """The whole body comes with the headers, in gunicorn's first read. (Not pipelined: gthread
    waits for the socket to be readable before the next request on a connection, so a request
    already read along with the previous one would wait for more bytes, with either reader.)"""
    body = b"a blob small enough to arrive in the same segment as the request line"
    head = (
        f"POST /v2/{name}/blobs/uploads/?digest={_digest(body)} HTTP/1.1\r\nHost: {live_registry.host}\r\n"
        f"Content-Type: application/octet-stream\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", live_registry.port), timeout=30) as sock:
        stream = sock.makefile("rb")
        sock.sendall(head + body)
        status, headers, answer = _read_answer(stream)
        sock.sendall(f"GET /v2/ HTTP/1.1\r\nHost: {live_registry.host}\r\n\r\n".encode())
        follow_status, _, _ = _read_answer(stream)

    assert status == 201, answer[:300]
    assert headers.get("connection", "").lower() != "close"
    assert follow_status == 200
    assert http.get(f"{live_registry.url}/v2/{name}/blobs/{_digest(body)}").content == body
