"""What ``DjangoStorageBackend`` does on a Google Cloud Storage django-storages backend.

Reads are ranged GETs of one object generation, a few MiB at a time. Uploads keep their pieces as
objects below ``uploads/<id>/``, with their state (the part objects and sizes, the committed size)
in the caller's upload row, so any process may continue them:

- ``uploads/<id>/data`` is an empty marker whose ``moorage-upload-size`` metadata is the upload's
  size (what ``stat`` reports); it is patched only at the end of a successful append, so a failed
  append leaves the upload where it was (part objects it wrote are not in the state and are
  deleted with the upload).
- ``upload_append`` writes the chunks as part objects ``uploads/<id>/part-<uuid>`` of at most
  ``PART`` bytes (the memory bound).
- ``upload_commit`` composes the parts covering the first ``size`` bytes into the blob path
  (``compose`` takes 32 sources: larger uploads compose intermediate objects first). The blob
  appears whole when the last compose returns. Then everything below ``uploads/<id>/`` goes.

``GoogleCloudStorage`` here is django-storages' with two additions: ``api_endpoint`` (the JSON API
base URL of an emulator or a private endpoint; ``STORAGE_EMULATOR_HOST`` works too) and
``credentials`` may be the path of a service-account key file.
"""

from __future__ import annotations

import posixpath
import uuid
from datetime import datetime, timedelta
from typing import BinaryIO, Collection, Iterable, Iterator

from google.api_core.exceptions import GoogleAPIError, NotFound
from google.auth.credentials import AnonymousCredentials
from google.auth.exceptions import GoogleAuthError
from google.cloud.storage import Blob, Client
from google.cloud.storage.retry import DEFAULT_RETRY
from requests.exceptions import RequestException
from storages.backends.gcloud import GoogleCloudStorage as DjangoGoogleCloudStorage
from storages.utils import clean_name

from storagebackends.base import ObjectNotFound, ObjectStat, StorageError
from storagebackends.orphans import stale_uploads
from storagebackends.paths import UPLOADS_PREFIX
from storagebackends.ranged import RangedReader

#: Largest part object an append (or ``write_atomic``) writes; also its memory bound.
PART = 8 * 1024 * 1024
#: GCS compose takes at most this many sources.
COMPOSE_MAX = 32
#: Metadata with an upload's size.
SIZE_META = "moorage-upload-size"
CONTENT_TYPE = "application/octet-stream"
#: Every call retries transient errors (our writes are idempotent: parts have fresh names, the
#: blob path is content-addressed) but gives up after 20 s instead of the client's 120 s, so a
#: store that is down fails the request (or lets the registry fall over) promptly.
RETRY = DEFAULT_RETRY.with_timeout(20.0)

_ERRORS = (GoogleAPIError, GoogleAuthError, RequestException)


class GoogleCloudStorage(DjangoGoogleCloudStorage):
    """django-storages' ``GoogleCloudStorage`` plus ``api_endpoint`` and key-file ``credentials``."""

    def get_default_settings(self) -> dict:
        return {**super().get_default_settings(), "api_endpoint": None}

    def __init__(self, **settings) -> None:  # noqa: ANN003 - django-storages' option names
        super().__init__(**settings)
        if isinstance(self.credentials, str):
            from google.oauth2 import service_account

            self.credentials = service_account.Credentials.from_service_account_file(self.credentials)

    @property
    def client(self) -> Client:
        if self._client is None and self.api_endpoint:
            self._client = Client(
                project=self.project_id or "moorage",
                credentials=self.credentials or AnonymousCredentials(),
                client_options={"api_endpoint": self.api_endpoint},
            )
        return super().client


def _upload_folder(upload_path: str) -> str:
    return posixpath.dirname(upload_path)


class GCSObjects:
    """Object operations on one bucket (and name prefix) of a django-storages ``GoogleCloudStorage``."""

    def __init__(self, storage: DjangoGoogleCloudStorage) -> None:
        self.storage = storage

    # -- helpers ---------------------------------------------------------------------------------
    @property
    def _bucket(self):  # noqa: ANN202 - google's Bucket
        return self.storage.bucket

    def _name(self, path: str) -> str:
        return self.storage._normalize_name(clean_name(path))

    def _blob(self, path: str) -> Blob:
        return self._bucket.blob(self._name(path))

    def _fail(self, action: str, path: str, exc: Exception) -> StorageError:
        return StorageError(f"cannot {action} {path}: {exc}")

    def _get(self, path: str) -> Blob | None:
        try:
            return self._bucket.get_blob(self._name(path), retry=RETRY)
        except NotFound:
            return None
        except _ERRORS as exc:
            raise self._fail("stat", path, exc) from exc

    # -- reads -----------------------------------------------------------------------------------
    def open(self, path: str, offset: int = 0) -> BinaryIO:
        blob = self._get(path)
        if blob is None:
            raise ObjectNotFound(path)
        declared = (blob.metadata or {}).get(SIZE_META)
        if declared is not None and int(declared) != blob.size:
            raise StorageError(f"{path} is a GCS upload in progress; it cannot be read back")
        pinned = Blob(blob.name, self._bucket, generation=blob.generation)

        def fetch(start: int, length: int) -> bytes:
            try:
                return pinned.download_as_bytes(start=start, end=start + length - 1, raw_download=True, checksum=None, retry=RETRY)
            except _ERRORS as exc:  # replaced or deleted while read, or unreachable
                raise self._fail("read", path, exc) from exc

        return RangedReader(fetch, offset, blob.size)  # type: ignore[return-value]

    def stat(self, path: str) -> ObjectStat | None:
        blob = self._get(path)
        if blob is None:
            return None
        declared = (blob.metadata or {}).get(SIZE_META)
        return ObjectStat(size=int(declared) if declared is not None else blob.size)

    def exists(self, path: str) -> bool:
        return self._get(path) is not None

    def delete(self, path: str) -> None:
        self._delete_name(self._name(path), path)

    def _delete_name(self, name: str, path: str) -> None:
        try:
            self._bucket.delete_blob(name, retry=RETRY)
        except NotFound:
            pass
        except _ERRORS as exc:
            raise self._fail("delete", path, exc) from exc

    def _root(self, prefix: str) -> str:
        key = self._name(prefix).strip("/")
        return f"{key}/" if key else ""

    def _strip(self) -> int:
        location = self.storage.location.strip("/")
        return len(location) + 1 if location else 0

    def _entries(self, prefix: str) -> Iterator[Blob]:
        try:
            yield from self.storage.client.list_blobs(self._bucket, prefix=self._root(prefix), retry=RETRY)
        except _ERRORS as exc:
            raise self._fail("list", prefix, exc) from exc

    def list(self, prefix: str) -> Iterator[str]:
        strip = self._strip()
        for blob in self._entries(prefix):
            yield blob.name[strip:]

    def redirect_url(self, path: str, *, expires_in: int) -> str:
        # django-storages signs a V4 URL (on custom_endpoint when set).
        parameters: dict = {"expiration": timedelta(seconds=expires_in)}
        endpoint = getattr(self.storage, "api_endpoint", None)
        if endpoint and not self.storage.custom_endpoint:
            parameters["api_access_endpoint"] = endpoint
        try:
            return self.storage.url(path, parameters=parameters)
        except (*_ERRORS, AttributeError) as exc:  # credentials that cannot sign
            raise self._fail("sign a URL for", path, exc) from exc

    # -- uploads ---------------------------------------------------------------------------------
    def _put(self, path: str, data: bytes | bytearray, metadata: dict | None = None) -> None:
        blob = self._blob(path)
        if metadata:
            blob.metadata = metadata
        predefined_acl = self.storage.get_object_parameters(blob.name).get("acl", self.storage.default_acl)
        blob.upload_from_string(bytes(data), content_type=CONTENT_TYPE, predefined_acl=predefined_acl, retry=RETRY)

    def upload_begin(self, upload_path: str) -> dict:
        try:
            self._put(upload_path, b"", {SIZE_META: "0"})
        except _ERRORS as exc:
            raise self._fail("begin upload", upload_path, exc) from exc
        return {"gcs_parts": [], "size": 0}

    def _put_part(self, upload_path: str, data: bytes | bytearray) -> list:
        part = f"{_upload_folder(upload_path)}/part-{uuid.uuid4().hex}"
        self._put(part, data)
        return [part, len(data)]

    def upload_append(self, upload_path: str, state: dict, offset: int, chunks: Iterable[bytes]) -> tuple[int, dict]:
        parts = [list(part) for part in state["gcs_parts"]]
        size = state["size"]
        if offset != size:
            # Parts cannot be cut, only dropped whole.
            while parts and size > offset:
                size -= parts.pop()[1]
            if size != offset:
                raise StorageError(f"upload {upload_path} is at {state['size']} bytes, cannot append at {offset}")
        written = 0
        buffer = bytearray()
        try:
            for chunk in chunks:
                buffer += chunk
                written += len(chunk)
                while len(buffer) >= PART:
                    parts.append(self._put_part(upload_path, buffer[:PART]))
                    del buffer[:PART]
            if buffer:
                parts.append(self._put_part(upload_path, buffer))
            # Last: the size moves only when every part is written (and the upload still exists).
            marker = self._blob(upload_path)
            marker.metadata = {SIZE_META: str(size + written)}
            marker.patch(retry=RETRY)
        except NotFound as exc:
            raise ObjectNotFound(upload_path) from exc
        except _ERRORS as exc:
            raise self._fail("append to", upload_path, exc) from exc
        return written, {**state, "gcs_parts": parts, "size": size + written}

    def upload_commit(self, upload_path: str, state: dict, final_path: str, size: int) -> None:
        parts = [list(part) for part in state["gcs_parts"]]
        if not 0 <= size <= state["size"]:
            raise StorageError(f"cannot commit {size} bytes of upload {upload_path}: it holds {state['size']}")
        try:
            # Content-addressed: an object already at the final path holds these very bytes.
            if not self.exists(final_path):
                if self._get(upload_path) is None:
                    raise ObjectNotFound(upload_path)
                sources = self._parts_covering(upload_path, parts, size)
                self._compose(upload_path, sources, final_path)
        except NotFound as exc:
            raise ObjectNotFound(upload_path) from exc
        except _ERRORS as exc:
            raise self._fail("commit", upload_path, exc) from exc
        self._remove_folder(upload_path)

    def _parts_covering(self, upload_path: str, parts: list, size: int) -> list[str]:
        """The part paths holding the first ``size`` bytes; a straddling part is rewritten truncated."""
        sources: list[str] = []
        total = 0
        for path, length in parts:
            if total == size:
                break
            if total + length > size:
                # Bytes of a failed chunk past ``size``: keep the part's head (at most PART bytes).
                head = self._blob(path).download_as_bytes(start=0, end=size - total - 1, raw_download=True, checksum=None, retry=RETRY)
                path = self._put_part(upload_path, head)[0]
                length = size - total
            sources.append(path)
            total += length
        return sources

    def _compose(self, upload_path: str, sources: list[str], final_path: str) -> None:
        if not sources:
            self._put(final_path, b"")
            return
        while len(sources) > COMPOSE_MAX:
            grouped = []
            for start in range(0, len(sources), COMPOSE_MAX):
                group = sources[start : start + COMPOSE_MAX]
                if len(group) == 1:
                    grouped.append(group[0])
                    continue
                intermediate = f"{_upload_folder(upload_path)}/compose-{uuid.uuid4().hex}"
                self._compose_into(group, intermediate)
                grouped.append(intermediate)
            sources = grouped
        self._compose_into(sources, final_path)  # the blob appears whole when this returns

    def _compose_into(self, sources: list[str], target_path: str) -> None:
        target = self._blob(target_path)
        target.content_type = CONTENT_TYPE
        target.compose([self._blob(path) for path in sources], retry=RETRY)

    def _remove_folder(self, upload_path: str) -> None:
        for blob in list(self._entries(_upload_folder(upload_path))):
            self._delete_name(blob.name, upload_path)

    def upload_abort(self, upload_path: str, state: dict) -> None:
        self._remove_folder(upload_path)

    def upload_orphans_remove(self, *, older_than: datetime, keep: Collection[str]) -> int:
        strip = self._strip()
        entries = [(blob.name[strip:], blob.updated or blob.time_created) for blob in self._entries(UPLOADS_PREFIX)]
        stale = stale_uploads(entries, older_than=older_than, keep=keep)
        for paths in stale.values():
            for path in paths:
                self.delete(path)
        return len(stale)

    def write_atomic(self, path: str, chunks: Iterable[bytes]) -> int:
        """One upload when it fits in a part, else part objects composed into ``path``."""
        buffer = bytearray()
        parts: list[str] = []
        # Parts live in an upload-like folder, so orphan cleanup reclaims them after a crash.
        folder = f"{UPLOADS_PREFIX}/w{uuid.uuid4().hex}/data"
        size = 0
        try:
            for chunk in chunks:
                buffer += chunk
                size += len(chunk)
                while len(buffer) >= PART:
                    parts.append(self._put_part(folder, buffer[:PART])[0])
                    del buffer[:PART]
            if not parts:
                self._put(path, buffer)
                return size
            if buffer:
                parts.append(self._put_part(folder, buffer)[0])
            self._compose(folder, parts, path)
        except BaseException as exc:
            if parts:
                try:
                    self._remove_folder(folder)
                except StorageError:
                    pass  # orphan cleanup reclaims them
            if isinstance(exc, _ERRORS):
                raise self._fail("write", path, exc) from exc
            raise
        self._remove_folder(folder)
        return size
