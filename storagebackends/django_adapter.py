"""One adapter from the storage protocol to a django-storages backend.

Filesystem storages expose ``path()``: there, uploads append to a file in place and commit
with an atomic ``os.replace``, and blob reads can use ``sendfile``. Object stores have one module
each with the same operations, where reads are ranged GETs and downloads may be redirected to
signed URLs: S3 (django-storages' ``S3Storage``; multipart uploads, ``storagebackends/s3.py``),
Azure Blob Storage (``AzureStorage``; block blobs, ``azure.py``) and Google Cloud Storage
(``GoogleCloudStorage``; part objects and compose, ``gcs.py``).
"""

from __future__ import annotations

import errno
import os
import shutil
import sys
import uuid
from datetime import datetime, timezone
from typing import BinaryIO, Collection, Iterable, Iterator

from django.core.files.storage import FileSystemStorage, Storage
from django.http import UnreadablePostError
from storages.backends.s3 import S3Storage

from storagebackends.base import ObjectNotFound, ObjectStat, StorageError, WriterFenced
from storagebackends.orphans import stale_uploads
from storagebackends.paths import UPLOADS_PREFIX
from storagebackends.s3 import S3Objects


def _object_store(storage: Storage):  # noqa: ANN202 - S3Objects | AzureObjects | GCSObjects | None
    """The object-store operations for ``storage``, or None for a filesystem (or other) storage.

    The Azure and GCS SDKs are imported only when such a storage is configured: a storage of
    those classes exists only once its django-storages module has been imported.
    """
    if isinstance(storage, S3Storage):
        return S3Objects(storage)
    azure_module = sys.modules.get("storages.backends.azure_storage")
    if azure_module is not None and isinstance(storage, azure_module.AzureStorage):
        from storagebackends.azure import AzureObjects

        return AzureObjects(storage)
    gcs_module = sys.modules.get("storages.backends.gcloud")
    if gcs_module is not None and isinstance(storage, gcs_module.GoogleCloudStorage):
        from storagebackends.gcs import GCSObjects

        return GCSObjects(storage)
    return None


class DjangoStorageBackend:
    """The storage protocol over one django-storages backend.

    ``direct_download``: ``redirect_url`` hands out short-lived URLs (presigned on S3, SAS on
    Azure, V4-signed on GCS) so clients download blobs from the store itself.
    """

    def __init__(self, name: str, storage: Storage, *, direct_download: bool = False) -> None:
        self.name = name
        self.storage = storage
        self.direct_download = direct_download
        self._is_local = isinstance(storage, FileSystemStorage)
        self._remote = _object_store(storage)

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
        if self._remote:
            return self._remote.open(path, offset)
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
        if self._remote:
            return self._remote.stat(path)
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
        if self._remote:
            return self._remote.delete(path)
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
        if self._remote:
            yield from self._remote.list(prefix)
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
        if self._remote and self.direct_download:
            return self._remote.redirect_url(path, expires_in=expires_in)
        return None  # streamed (zero-copy from a filesystem)

    def local_path(self, path: str) -> str | None:
        return self._fs(path) if self._is_local else None

    # -- writes ----------------------------------------------------------------------------------
    def upload_begin(self, upload_path: str) -> dict:
        if self._remote:
            return self._remote.upload_begin(upload_path)
        self._require_local()
        target = self._fs(upload_path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb"):
            pass
        return {}

    def upload_append(self, upload_path: str, state: dict, offset: int, chunks: Iterable[bytes]) -> tuple[int, dict]:
        if self._remote:
            return self._remote.upload_append(upload_path, state, offset, chunks)
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
                except WriterFenced:
                    raise  # another writer may be appending at ``offset`` now: truncating would cut its bytes
                except BaseException:
                    handle.truncate(offset)
                    raise
        except FileNotFoundError as exc:
            raise ObjectNotFound(upload_path) from exc
        except UnreadablePostError:
            raise  # the client's body failed (stalled or cut off), not the storage
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise StorageError("no space left on the storage device") from exc
            raise StorageError(f"cannot write upload: {exc}") from exc
        return written, state

    def upload_commit(self, upload_path: str, state: dict, final_path: str, size: int) -> None:
        if self._remote:
            return self._remote.upload_commit(upload_path, state, final_path, size)
        self._require_local()
        source, target = self._fs(upload_path), self._fs(final_path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        try:
            with open(source, "r+b") as handle:
                handle.truncate(size)
                os.fsync(handle.fileno())
            os.replace(source, target)  # atomic: readers see no blob or the whole blob
        except FileNotFoundError as exc:  # aborted (or committed) meanwhile, as the other backends say
            raise ObjectNotFound(upload_path) from exc
        except OSError as exc:
            raise StorageError(f"cannot commit upload: {exc}") from exc
        self._remove_upload_folder(upload_path)

    def upload_abort(self, upload_path: str, state: dict) -> None:
        if self._remote:
            return self._remote.upload_abort(upload_path, state)
        if not self._is_local:
            return
        try:
            os.unlink(self._fs(upload_path))
        except FileNotFoundError:
            pass
        self._remove_upload_folder(upload_path)

    def upload_orphans_remove(self, *, older_than: datetime, keep: Collection[str]) -> int:
        """Remove backend-side state of uploads untouched since ``older_than`` whose upload path is
        not in ``keep`` (folders under ``uploads/``, S3 multipart uploads, Azure uncommitted blocks,
        GCS part objects); returns how many uploads were removed.

        "Untouched": every piece of the upload was last written before ``older_than``, so an upload
        still receiving chunks is never removed, however old.
        """
        if self._remote:
            return self._remote.upload_orphans_remove(older_than=older_than, keep=keep)
        if not self._is_local:
            return 0
        root = self._fs(UPLOADS_PREFIX)
        entries = []
        for folder, _dirs, files in os.walk(root):
            for name in [*files, "."]:
                full = os.path.normpath(os.path.join(folder, name))
                try:
                    modified = datetime.fromtimestamp(os.stat(full).st_mtime, tz=timezone.utc)
                except FileNotFoundError:
                    continue
                relative = os.path.relpath(full, self.storage.location).replace(os.sep, "/")
                entries.append((relative if name != "." else f"{relative}/.", modified))
        stale = stale_uploads(entries, older_than=older_than, keep=keep)
        for upload_id in stale:
            shutil.rmtree(os.path.join(root, upload_id), ignore_errors=True)
        return len(stale)

    def _remove_upload_folder(self, upload_path: str) -> None:
        try:
            os.rmdir(os.path.dirname(self._fs(upload_path)))
        except OSError:
            pass

    def write_atomic(self, path: str, chunks: Iterable[bytes]) -> int:
        if self._remote:
            return self._remote.write_atomic(path, chunks)
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
