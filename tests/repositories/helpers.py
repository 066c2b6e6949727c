"""Small helpers shared by the repositories tests: request bodies, pushing blobs through the real
services, and running callables in threads that really race."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from django.db import connections

from repositories.models import Blob, Repository
from repositories.services.uploads import BodyStream, blob_upload_append, blob_upload_complete, blob_upload_start
from tests.factories import digest_of


def body(*chunks: bytes) -> BodyStream:
    """A request body with an honest Content-Length."""
    return BodyStream(list(chunks), sum(len(c) for c in chunks))


def push_blob(*, repository: Repository, data: bytes, chunk_size: int = 0) -> Blob:
    """Upload ``data`` as a client would: start, PATCH in ``chunk_size`` pieces (one if 0), PUT."""
    upload = blob_upload_start(repository=repository)
    step = chunk_size or max(len(data), 1)
    for offset in range(0, len(data), step):
        upload = blob_upload_append(upload=upload, body=body(data[offset : offset + step]))
    return blob_upload_complete(upload=upload, digest=digest_of(data))


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def slow(data: bytes, pieces: int = 8, pause: Callable[[], None] | None = None) -> Iterator[bytes]:
    """``data`` in ``pieces`` parts with a pause between them, so concurrent writers overlap."""
    step = max(1, len(data) // pieces)
    for offset in range(0, len(data), step):
        if pause:
            pause()
        yield data[offset : offset + step]


@dataclass
class Outcome:
    value: Any = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def race(functions: Iterable[Callable[[], Any]], timeout: float = 120) -> list[Outcome]:
    """Run every function in its own thread, all released at once by a barrier.

    Each thread uses (and closes) its own database connection, as a request in another
    process would.
    """
    functions = list(functions)
    barrier = threading.Barrier(len(functions))
    outcomes = [Outcome() for _ in functions]

    def worker(index: int, function: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=timeout)
            outcomes[index].value = function()
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            outcomes[index].error = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, f), daemon=True) for i, f in enumerate(functions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "a racing thread hung"
    return outcomes
