"""The storage protocol every backend implements.

Blobs are immutable, content-addressed objects. Upload sessions are append-only objects that
may be written by several processes in turn (one chunk each, never concurrently: the upload
row is locked while a chunk is written) and are committed into a blob path atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Collection, Iterable, Iterator, Protocol, runtime_checkable


class StorageError(Exception):
    """A backend failed (I/O error, unreachable object store)."""


class ObjectNotFound(StorageError):
    """The object does not exist."""


class WriterFenced(Exception):
    """Raised by the caller's chunks when its writer lost (or may have lost) its claim on the
    upload mid-chunk: the backend stops and leaves the upload's bytes alone, since another writer
    may own them now (no truncation on the way out)."""


@dataclass(frozen=True)
class ObjectStat:
    size: int


@runtime_checkable
class StorageBackend(Protocol):
    """What the registry needs from a place that keeps bytes."""

    name: str

    def open(self, path: str, offset: int = 0) -> BinaryIO:
        """Open ``path`` for reading, positioned at ``offset``. Raises ObjectNotFound."""

    def stat(self, path: str) -> ObjectStat | None:
        """Size of ``path``, or None when it does not exist."""

    def exists(self, path: str) -> bool: ...

    def delete(self, path: str) -> None:
        """Delete ``path``; deleting a missing object is not an error."""

    def list(self, prefix: str) -> Iterator[str]:
        """Paths of the objects below ``prefix``."""

    def redirect_url(self, path: str, *, expires_in: int) -> str | None:
        """A short-lived URL a client may download from directly, or None if not supported."""

    def local_path(self, path: str) -> str | None:
        """A filesystem path for zero-copy serving, or None for remote stores."""

    # -- upload sessions ------------------------------------------------------------------------
    def upload_begin(self, upload_path: str) -> dict:
        """Create an empty upload object; returns backend state to persist with the upload."""

    def upload_append(self, upload_path: str, state: dict, offset: int, chunks: Iterable[bytes]) -> tuple[int, dict]:
        """Append ``chunks`` at ``offset`` (the current size). Returns (bytes written, new state).

        A failed append leaves the object at ``offset`` bytes.
        """

    def upload_commit(self, upload_path: str, state: dict, final_path: str, size: int) -> None:
        """Atomically move the first ``size`` bytes of the upload to ``final_path``.

        Bytes past ``size`` (left by a chunk that failed) are dropped; an identical blob
        already at ``final_path`` is replaced.
        """

    def upload_abort(self, upload_path: str, state: dict) -> None:
        """Remove the upload object and anything the backend kept for it."""

    def upload_orphans_remove(self, *, older_than: datetime, keep: Collection[str]) -> int:
        """Remove backend-side state of uploads (files under the uploads prefix, S3 multipart
        uploads, Azure uncommitted blocks, GCS part objects) created before ``older_than`` whose
        upload path is not in ``keep``; returns how many were removed.

        An upload counts once, whatever number of objects it had. Backends judge by the last write
        of any piece of the upload, so one still receiving chunks is never removed.
        """

    def write_atomic(self, path: str, chunks: Iterable[bytes]) -> int:
        """Write a whole object at once, visible only when complete. Returns its size."""
