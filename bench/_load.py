"""A raw-socket load generator for HEAD (wrk 4.1 waits for a body after a HEAD answer that has a
Content-Length, so it cannot measure HEAD): worker processes, each an event loop over its share
of keep-alive connections, one request in flight per connection. Every response is checked
(status 200, ``Docker-Content-Digest``); latency is measured per request. bench/compare.py
prints what it reaches against nginx next to wrk's figure, so it is visibly not the bottleneck
for the registries."""

from __future__ import annotations

import multiprocessing
import selectors
import socket
import time

from _wrk import WrkFailed, WrkResult


def _worker(host: str, port: int, request: bytes, head: bool, digest: bytes | None, connections: int, seconds: float, queue) -> None:
    selector = selectors.DefaultSelector()
    state = {}
    for _ in range(connections):
        sock = socket.create_connection((host, port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
        state[sock] = [bytearray(), time.perf_counter()]
        sock.send(request)
    latencies: list[float] = []
    bad = 0
    begun = time.perf_counter()
    deadline = begun + seconds
    needle = b"\r\ndocker-content-digest:"
    while time.perf_counter() < deadline:
        for key, _ in selector.select(timeout=1):
            sock = key.fileobj
            buffer, started = state[sock]
            chunk = sock.recv(262144)
            if not chunk:
                queue.put(([], -1, 0.0))
                return
            buffer += chunk
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                continue
            header = bytes(buffer[:end]).lower()
            length = 0
            if not head:
                at = header.find(b"\r\ncontent-length:")
                if at >= 0:
                    line_end = header.find(b"\r\n", at + 2)
                    length = int(header[at + 17:line_end if line_end >= 0 else len(header)])
            if len(buffer) < end + 4 + length:
                continue
            ok = header.startswith(b"http/1.1 200")
            if ok and digest is not None:
                at = header.find(needle)
                ok = at >= 0 and header[at + len(needle):].split(b"\r\n", 1)[0].strip() == digest
            if not ok:
                bad += 1
            now = time.perf_counter()
            latencies.append(now - started)
            del buffer[:end + 4 + length]
            state[sock][1] = now
            sock.send(request)
    for sock in state:
        sock.close()
    queue.put((latencies, bad, time.perf_counter() - begun))


def run(host: str, port: int, path: str, *, method: str = "HEAD", headers: dict[str, str] | None = None, digest: str | None = None,
        connections: int = 16, processes: int = 2, seconds: float = 5.0) -> WrkResult:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", *(f"{k}: {v}" for k, v in (headers or {}).items()), "", ""]
    request = "\r\n".join(lines).encode()
    queue: multiprocessing.Queue = multiprocessing.Queue()
    share = [connections // processes + (1 if i < connections % processes else 0) for i in range(processes)]
    workers = [
        multiprocessing.Process(target=_worker, args=(host, port, request, method == "HEAD", digest.lower().encode() if digest else None, n, seconds, queue))
        for n in share if n
    ]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=seconds + 60) for _ in workers]
    for worker in workers:
        worker.join()
    latencies = sorted(x for part, _, _ in results for x in part)
    if any(b < 0 for _, b, _ in results):
        raise WrkFailed(f"{method} {path}: the server closed a keep-alive connection")
    bad = sum(b for _, b, _ in results)
    if bad or not latencies or any(w.exitcode for w in workers):
        raise WrkFailed(f"{method} {path}: {bad} wrong responses of {len(latencies)}")
    rate = sum(len(part) / duration for part, _, duration in results)
    pick = lambda p: latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000  # noqa: E731
    return WrkResult(requests_per_s=rate, p50_ms=pick(50), p99_ms=pick(99), requests=len(latencies))
