"""One adapter from the storage protocol to a django-storages backend.

Filesystem storages expose ``path()``: there, uploads append to a file in place and commit
with an atomic ``os.replace``, and blob reads can use ``sendfile``. On S3 (django-storages'
``S3Storage``) reads are ranged GETs, uploads are S3 multipart uploads and downloads may be
redirected to presigned URLs (``storagebackends/s3.py``).
"""

from __future__ import annotations

import errno
import os
import uuid
from typing import BinaryIO, Iterable, Iterator

from django.core.files.storage import FileSystemStorage, Storage
from storages.backends.s3 import S3Storage

from storagebackends.base import ObjectNotFound, ObjectStat, StorageError
from storagebackends.s3 import S3Objects


class DjangoStorageBackend:
    """The storage protocol over one django-storages backend.

    ``direct_download``: ``redirect_url`` hands out short-lived URLs (presigned on S3) so clients
    download blobs from the store itself.
    """

    def __init__(self, name: str, storage: Storage, *, direct_download: bool = False) -> None:
        self.name = name
        self.storage = storage
        self.direct_download = direct_download
        self._is_local = isinstance(storage, FileSystemStorage)
        self._s3 = S3Objects(storage) if isinstance(storage, S3Storage) else None

    def __repr__(self) -> str:
        return f"<DjangoStorageBackend {self.name} {type(self.storage).__name__}>"

    # -- helpers ---------------------------------------------------------------------------------
    def _fs(self, path: str) -> str:
        return self.storage.path(path)

    def _require_local(self) -> None:
        if not self._is_local:
            raise StorageError(f"{type(self.storage).__name__} is not supported yet for uploads")

    # -- reads -----------------------------------------------------------------------------------
    def open(self, path: str, offset: int = 0) -> BinaryIO:
        if self._s3:
            return self._s3.open(path, offset)
        try:
            if self._is_local:
                handle: BinaryIO = open(self._fs(path), "rb")  # noqa: SIM115 - caller closes
            else:
                handle = self.storage.open(path, "rb")
        except FileNotFoundError as exc:
            raise ObjectNotFound(path) from exc
        except OSError as exc:
            raise StorageError(f"cannot open {path}: {exc}") from exc
        if offset:
            handle.seek(offset)
        return handle

    def stat(self, path: str) -> ObjectStat | None:
        if self._s3:
            return self._s3.stat(path)
        try:
            if self._is_local:
                return ObjectStat(size=os.stat(self._fs(path)).st_size)
            if not self.storage.exists(path):
                return None
            return ObjectStat(size=self.storage.size(path))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"cannot stat {path}: {exc}") from exc

    def exists(self, path: str) -> bool:
        return self.stat(path) is not None

    def delete(self, path: str) -> None:
        if self._s3:
            return self._s3.delete(path)
        try:
            if self._is_local:
                os.unlink(self._fs(path))
            else:
                self.storage.delete(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StorageError(f"cannot delete {path}: {exc}") from exc

    def list(self, prefix: str) -> Iterator[str]:
        if self._s3:
            yield from self._s3.list(prefix)
            return
        if self._is_local:
            root = self._fs(prefix)
            for folder, _dirs, files in os.walk(root):
                for filename in files:
                    full = os.path.join(folder, filename)
                    yield os.path.relpath(full, self.storage.location)
            return
        stack = [prefix.rstrip("/")]
        while stack:
            current = stack.pop()
            dirs, files = self.storage.listdir(current)
            for filename in files:
                yield f"{current}/{filename}"
            stack.extend(f"{current}/{d}" for d in dirs)

    def redirect_url(self, path: str, *, expires_in: int) -> str | None:
        if self._s3 and self.direct_download:
            return self._s3.redirect_url(path, expires_in=expires_in)
        return None  # streamed (zero-copy from a filesystem)

    def local_path(self, path: str) -> str | None:
        return self._fs(path) if self._is_local else None

    # -- writes ----------------------------------------------------------------------------------
    def upload_begin(self, upload_path: str) -> dict:
        if self._s3:
            return self._s3.upload_begin(upload_path)
        self._require_local()
        target = self._fs(upload_path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb"):
            pass
        return {}

    def upload_append(self, upload_path: str, state: dict, offset: int, chunks: Iterable[bytes]) -> tuple[int, dict]:
        if self._s3:
            return self._s3.upload_append(upload_path, state, offset, chunks)
        self._require_local()
        target = self._fs(upload_path)
        written = 0
        try:
            with open(target, "r+b") as handle:
                # Drop whatever a crashed earlier request may have left past the committed size.
                handle.truncate(offset)
                handle.seek(offset)
                try:
                    for chunk in chunks:
                        handle.write(chunk)
                        written += len(chunk)
                except BaseException:
                    handle.truncate(offset)
                    raise
        except FileNotFoundError as exc:
            raise ObjectNotFound(upload_path) from exc
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise StorageError("no space left on the storage device") from exc
            raise StorageError(f"cannot write upload: {exc}") from exc
        return written, state

    def upload_commit(self, upload_path: str, state: dict, final_path: str, size: int) -> None:
        if self._s3:
            return self._s3.upload_commit(upload_path, state, final_path, size)
        self._require_local()
        source, target = self._fs(upload_path), self._fs(final_path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        try:
            with open(source, "r+b") as handle:
                handle.truncate(size)
                os.fsync(handle.fileno())
            os.replace(source, target)  # atomic: readers see no blob or the whole blob
        except OSError as exc:
            raise StorageError(f"cannot commit upload: {exc}") from exc
        self._remove_upload_folder(upload_path)

    def upload_abort(self, upload_path: str, state: dict) -> None:
        if self._s3:
            return self._s3.upload_abort(upload_path, state)
        if not self._is_local:
            return
        try:
            os.unlink(self._fs(upload_path))
        except FileNotFoundError:
            pass
        self._remove_upload_folder(upload_path)

    def _remove_upload_folder(self, upload_path: str) -> None:
        try:
            os.rmdir(os.path.dirname(self._fs(upload_path)))
        except OSError:
            pass

    def write_atomic(self, path: str, chunks: Iterable[bytes]) -> int:
        if self._s3:
            return self._s3.write_atomic(path, chunks)
        self._require_local()
        target = self._fs(path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        temporary = f"{target}.tmp-{uuid.uuid4().hex}"
        size = 0
        try:
            with open(temporary, "wb") as handle:
                for chunk in chunks:
                    handle.write(chunk)
                    size += len(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException as exc:
            # Whatever failed (the disk, or the caller's chunks mid-way), leave no temporary behind.
            try:
                os.unlink(temporary)
            except OSError:
                pass
            if isinstance(exc, OSError):
                raise StorageError(f"cannot write {path}: {exc}") from exc
            raise
        return size
