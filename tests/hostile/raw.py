"""Hand-written HTTP for requests no well-behaved client library would send."""

from __future__ import annotations

import http.client
import socket
import time
from dataclasses import dataclass


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def exchange(port: int, head: bytes, body_parts: tuple[bytes, ...] = (), *, pause: float = 0.0, close_write: bool = True,
             timeout: float = 30) -> Answer:
    """Send ``head`` and the ``body_parts`` (``pause`` seconds apart), optionally half-close, and
    read the answer. A server that answers early (before the body) is read all the same."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head)
        for part in body_parts:
            if pause:
                time.sleep(pause)
            try:
                sock.sendall(part)
            except OSError:
                break  # the server answered and closed early
        if close_write:
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        response = http.client.HTTPResponse(sock)
        response.begin()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())


def request_head(method: str, path: str, headers: dict[str, str] | list[tuple[str, str]] | None = None) -> bytes:
    items = headers.items() if isinstance(headers, dict) else (headers or [])
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"] + [f"{k}: {v}" for k, v in items]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
