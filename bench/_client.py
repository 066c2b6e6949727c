"""The one client bench/compare.py measures every server with: http.client over keep-alive
connections, every response checked (status, digest, length) so an error cannot pass for speed.

Blob bodies are streamed both ways (never held whole except the 64 MiB test blobs), hashed as
they arrive; request latency series for p50/p99 come from here, the high-rate series from wrk
(``_wrk``)."""

from __future__ import annotations

import hashlib
import http.client
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Iterable, Iterator
from urllib.parse import urlsplit

READ_CHUNK = 1 << 20


class CheckFailed(Exception):
    """A response that was not what the protocol promises: the figure is not reported."""


@dataclass
class Target:
    """One server: where it listens and the Authorization header to send (None: no auth)."""

    name: str
    host: str
    port: int
    authorization: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=600)

    def headers(self, **more: str) -> dict[str, str]:
        headers = dict(self.extra_headers)
        if self.authorization:
            headers["Authorization"] = self.authorization
        headers.update({k.replace("_", "-"): v for k, v in more.items()})
        return headers


def request(
    conn: http.client.HTTPConnection, method: str, path: str, *, headers: dict[str, str], body: bytes | memoryview | Iterable[bytes] | None = None,
    expect: tuple[int, ...] = (200,),
) -> tuple[http.client.HTTPResponse, bytes]:
    """One request; the whole (small) body is read. Raises CheckFailed on an unexpected status."""
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    if response.status not in expect:
        raise CheckFailed(f"{method} {path}: HTTP {response.status} (expected {expect}): {data[:300]!r}")
    return response, data


def _path(location: str) -> str:
    parts = urlsplit(location)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _join(location: str, **params: str) -> str:
    path = _path(location)
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return path + ("&" if "?" in path else "?") + query


def push_monolithic(target: Target, repo: str, data: memoryview | bytes, digest: str) -> None:
    """POST to start, one PUT with the whole body (the upload every server supports)."""
    conn = target.connection()
    try:
        response, _ = request(conn, "POST", f"/v2/{repo}/blobs/uploads/", headers=target.headers(Content_Length="0"), expect=(202,))
        location = response.getheader("Location") or ""
        response, _ = request(
            conn, "PUT", _join(location, digest=digest), body=data,
            headers=target.headers(Content_Type="application/octet-stream", Content_Length=str(len(data))), expect=(201,),
        )
        if response.getheader("Docker-Content-Digest") != digest:
            raise CheckFailed(f"{target.name}: monolithic push answered digest {response.getheader('Docker-Content-Digest')}, expected {digest}")
    finally:
        conn.close()


def push_stream(target: Target, repo: str, chunks: Iterable[bytes], size: int, digest: str) -> None:
    """POST, then one PUT whose body is produced chunk by chunk (for blobs too big for memory)."""
    conn = target.connection()
    try:
        response, _ = request(conn, "POST", f"/v2/{repo}/blobs/uploads/", headers=target.headers(Content_Length="0"), expect=(202,))
        location = response.getheader("Location") or ""
        response, _ = request(
            conn, "PUT", _join(location, digest=digest), body=chunks,
            headers=target.headers(Content_Type="application/octet-stream", Content_Length=str(size)), expect=(201,),
        )
        if response.getheader("Docker-Content-Digest") != digest:
            raise CheckFailed(f"{target.name}: streamed push answered digest {response.getheader('Docker-Content-Digest')}")
    finally:
        conn.close()


def push_chunked(target: Target, repo: str, data: memoryview | bytes, digest: str, chunk: int) -> None:
    """POST, one PATCH per ``chunk`` bytes (with Content-Range), then the closing PUT."""
    conn = target.connection()
    try:
        response, _ = request(conn, "POST", f"/v2/{repo}/blobs/uploads/", headers=target.headers(Content_Length="0"), expect=(202,))
        location = response.getheader("Location") or ""
        view = memoryview(data)
        for start in range(0, len(view), chunk):
            part = view[start:start + chunk]
            response, _ = request(
                conn, "PATCH", _path(location), body=part,
                headers=target.headers(
                    Content_Type="application/octet-stream", Content_Length=str(len(part)), Content_Range=f"{start}-{start + len(part) - 1}",
                ),
                expect=(202,),
            )
            location = response.getheader("Location") or location
            if response.getheader("Range") != f"0-{start + len(part) - 1}":
                raise CheckFailed(f"{target.name}: PATCH answered Range {response.getheader('Range')}")
        response, _ = request(conn, "PUT", _join(location, digest=digest), headers=target.headers(Content_Length="0"), expect=(201,))
        if response.getheader("Docker-Content-Digest") != digest:
            raise CheckFailed(f"{target.name}: chunked push answered digest {response.getheader('Docker-Content-Digest')}")
    finally:
        conn.close()


def pull(conn: http.client.HTTPConnection, target: Target, path: str, digest: str, size: int) -> int:
    """GET a blob (following one redirect), hash it as it arrives, check digest and length."""
    conn.request("GET", path, headers=target.headers())
    response = conn.getresponse()
    if response.status in (301, 302, 307):
        response.read()
        location = response.getheader("Location") or ""
        other = http.client.HTTPConnection(urlsplit(location).hostname, urlsplit(location).port, timeout=600)
        try:
            return pull(other, Target(target.name, target.host, target.port), _path(location), digest, size)
        finally:
            other.close()
    if response.status != 200:
        raise CheckFailed(f"{target.name}: GET {path}: HTTP {response.status}: {response.read()[:200]!r}")
    hasher = hashlib.sha256()
    buffer = bytearray(READ_CHUNK)
    view = memoryview(buffer)
    received = 0
    while True:
        n = response.readinto(view)
        if not n:
            break
        hasher.update(view[:n])
        received += n
    if received != size or "sha256:" + hasher.hexdigest() != digest:
        raise CheckFailed(f"{target.name}: GET {path}: got {received} bytes with digest sha256:{hasher.hexdigest()}, expected {size} / {digest}")
    return received


def pull_parallel(target: Target, path: str, digest: str, size: int, *, concurrency: int, repeat: int) -> float:
    """``concurrency`` connections each pulling the blob ``repeat`` times; returns MB/s (10^6)."""
    errors: list[BaseException] = []
    total = [0]
    lock = threading.Lock()

    def worker() -> None:
        conn = target.connection()
        try:
            for _ in range(repeat):
                got = pull(conn, target, path, digest, size)
                with lock:
                    total[0] += got
        except BaseException as exc:  # reported after the join
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if errors:
        raise errors[0]
    return total[0] / seconds / 1e6


def latencies(target: Target, path: str, count: int, check) -> list[float]:
    """``count`` sequential GETs on one connection; milliseconds each; ``check(response, body)`` must hold."""
    conn = target.connection()
    times = []
    try:
        for _ in range(count):
            started = time.perf_counter()
            conn.request("GET", path, headers=target.headers())
            response = conn.getresponse()
            body = response.read()
            times.append((time.perf_counter() - started) * 1000)
            if response.status != 200 or not check(response, body):
                raise CheckFailed(f"{target.name}: GET {path}: HTTP {response.status}: {body[:200]!r}")
    finally:
        conn.close()
    return times


def walk(target: Target, first: str, key: str) -> tuple[list[str], int, float]:
    """Follow ``Link: <...>; rel="next"`` from ``first``; returns (all names, requests, seconds)."""
    conn = target.connection()
    names: list[str] = []
    path: str | None = first
    requests_made = 0
    started = time.perf_counter()
    try:
        while path:
            _response, body = request(conn, "GET", path, headers=target.headers())
            response = _response
            requests_made += 1
            names.extend(json.loads(body)[key] or [])
            link = response.getheader("Link")
            path = _path(link.split(";")[0].strip().strip("<>")) if link else None
    finally:
        conn.close()
    return names, requests_made, time.perf_counter() - started


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered))) - 1))]


def generated_chunks(seed_block: bytes, count: int) -> Iterator[bytes]:
    """``count`` blocks of pseudo-random bytes, each ``seed_block`` with its index stamped in front
    (distinct blocks, so nothing can deduplicate them, without holding them all)."""
    for index in range(count):
        yield index.to_bytes(8, "big") + seed_block[8:]


def generated_digest(seed_block: bytes, count: int) -> str:
    hasher = hashlib.sha256()
    for block in generated_chunks(seed_block, count):
        hasher.update(block)
    return "sha256:" + hasher.hexdigest()
