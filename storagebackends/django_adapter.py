"""One adapter from the storage protocol to a django-storages backend.

Filesystem storages expose ``path()``: there, uploads append to a file in place and commit
with an atomic ``os.replace``, and blob reads can use ``sendfile``. Object stores (S3 multipart
and friends) are added by the storage issue behind the same methods.
"""

from __future__ import annotations

import errno
import os
import uuid
from typing import BinaryIO, Iterable, Iterator

from django.core.files.storage import FileSystemStorage, Storage

from storagebackends.base import ObjectNotFound, ObjectStat, StorageError


class DjangoStorageBackend:
    def __init__(self, name: str, storage: Storage) -> None:
        self.name = name
        self.storage = storage
        self._is_local = isinstance(storage, FileSystemStorage)

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
        return None  # filesystem: streamed (zero-copy); signed URLs arrive with object stores

    def local_path(self, path: str) -> str | None:
        return self._fs(path) if self._is_local else None

    # -- writes ----------------------------------------------------------------------------------
    def upload_begin(self, upload_path: str) -> dict:
        self._require_local()
        target = self._fs(upload_path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb"):
            pass
        return {}

    def upload_append(self, upload_path: str, state: dict, offset: int, chunks: Iterable[bytes]) -> tuple[int, dict]:
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
