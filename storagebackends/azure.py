"""What ``DjangoStorageBackend`` does on an Azure Blob Storage django-storages backend (``AzureStorage``).

Reads are ranged GETs of one blob version (its ETag), a few MiB at a time. Uploads are block
blobs whose state (the ids and sizes of the staged blocks, the committed size) lives in the
caller's upload row, so any process may continue them:

- ``upload_begin`` creates ``uploads/<id>/data`` as an empty blob. Its ``moorage_upload_size``
  metadata is the upload's size (what ``stat`` reports); it is set only at the end of a successful
  append, so a failed append leaves the upload where it was. Blocks that append staged are not
  listed in the state and Azure discards them at the next commit of that blob.
- ``upload_append`` stages the chunks as blocks (at most ``BLOCK`` bytes each) on that blob.
- ``upload_commit`` commits the listed blocks covering the first ``size`` bytes (a block that
  straddles ``size`` is restaged truncated; blocks are never larger than ``BLOCK``) on the upload
  blob, then copies it server side to the blob path: up to ``SYNC_COPY_MAX`` with one synchronous
  Copy Blob From URL, larger ones with Put Block From URL ranges and one Put Block List on the blob
  path. Either way the blob appears whole. Then the upload blob (and its blocks) is deleted.

Nothing is read into memory whole nor staged on local disk (only the straddling block, at most
``BLOCK`` bytes, when a commit drops bytes past ``size``).
"""

from __future__ import annotations

import base64
import logging
import uuid
from datetime import datetime, timedelta, timezone
from typing import BinaryIO, Collection, Iterable, Iterator

from azure.core import MatchConditions
from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.storage.blob import BlobBlock, BlobSasPermissions, BlobServiceClient, ContentSettings, generate_blob_sas
from storages.backends.azure_storage import AzureStorage as DjangoAzureStorage
from storages.utils import clean_name

from storagebackends.base import ObjectNotFound, ObjectStat, StorageError
from storagebackends.orphans import stale_uploads
from storagebackends.paths import UPLOADS_PREFIX
from storagebackends.ranged import RangedReader

#: Largest block an append (or ``write_atomic``) stages; also its memory bound.
BLOCK = 8 * 1024 * 1024
#: Azure's limit for one synchronous Copy Blob From URL.
SYNC_COPY_MAX = 256 * 1024 * 1024
#: Range copied by one Put Block From URL when a blob is larger than ``SYNC_COPY_MAX``.
FROM_URL_BLOCK = 100 * 1024 * 1024
#: Metadata with an upload's size (Azure metadata names are C# identifiers: no dashes).
SIZE_META = "moorage_upload_size"
#: How long the SAS of a copy source stays valid.
COPY_SAS_LIFETIME = timedelta(hours=1)


#: Client options unless the location's ``client_options`` say otherwise: the SDK's own retries
#: (15 s, then 15+3², 15+3³ s apart) keep a request to a store that is down waiting ~80 s before
#: the registry may fall over to another location; these give up within seconds.
CLIENT_DEFAULTS = {"initial_backoff": 1, "increment_base": 2, "retry_total": 2, "connection_timeout": 10}


class AzureStorage(DjangoAzureStorage):
    """django-storages' ``AzureStorage`` whose ``client_options`` (over ``CLIENT_DEFAULTS``) also
    apply to a ``connection_string`` (django-storages 1.14 drops them there)."""

    def _get_service_client(self) -> BlobServiceClient:
        options = {**CLIENT_DEFAULTS, **(self.client_options or {})}
        if self.connection_string is not None:
            return BlobServiceClient.from_connection_string(self.connection_string, **options)
        self.client_options = options
        return super()._get_service_client()


# The SDK logs every request (URL and headers) at INFO; the registry's own logs say what failed.
logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)


def _block_id() -> str:
    # Every block id of a blob must have the same length: 32 hex digits, base64-encoded.
    return base64.b64encode(uuid.uuid4().hex.encode()).decode()


class AzureObjects:
    """Object operations on one container (and name prefix) of a django-storages ``AzureStorage``."""

    def __init__(self, storage: DjangoAzureStorage) -> None:
        self.storage = storage

    # -- helpers ---------------------------------------------------------------------------------
    @property
    def _container(self):  # noqa: ANN202 - azure's ContainerClient
        return self.storage.client

    def _name(self, path: str) -> str:
        return self.storage._get_valid_path(path)

    def _blob(self, path: str):  # noqa: ANN202 - azure's BlobClient
        return self._container.get_blob_client(self._name(path))

    def _content_settings(self, path: str) -> ContentSettings:
        """django-storages' content settings (``object_parameters``, ``cache_control``) for ``path``."""
        return ContentSettings(**self.storage._get_content_settings_parameters(self._name(path)))

    def _fail(self, action: str, path: str, exc: Exception) -> StorageError:
        return StorageError(f"cannot {action} {path}: {exc}")

    @property
    def _timeout(self) -> int:
        return self.storage.timeout

    # -- reads -----------------------------------------------------------------------------------
    def open(self, path: str, offset: int = 0) -> BinaryIO:
        blob = self._blob(path)
        try:
            properties = blob.get_blob_properties(timeout=self._timeout)
        except ResourceNotFoundError as exc:
            raise ObjectNotFound(path) from exc
        except AzureError as exc:
            raise self._fail("open", path, exc) from exc
        declared = (properties.metadata or {}).get(SIZE_META)
        if declared is not None and int(declared) != properties.size:
            raise StorageError(f"{path} is an Azure block upload in progress; it cannot be read back")
        etag = properties.etag

        def fetch(start: int, length: int) -> bytes:
            try:
                return blob.download_blob(
                    offset=start, length=length, etag=etag, match_condition=MatchConditions.IfNotModified, timeout=self._timeout
                ).readall()
            except AzureError as exc:  # replaced or deleted while read, or unreachable
                raise self._fail("read", path, exc) from exc

        return RangedReader(fetch, offset, properties.size)  # type: ignore[return-value]

    def stat(self, path: str) -> ObjectStat | None:
        try:
            properties = self._blob(path).get_blob_properties(timeout=self._timeout)
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise self._fail("stat", path, exc) from exc
        declared = (properties.metadata or {}).get(SIZE_META)
        return ObjectStat(size=int(declared) if declared is not None else properties.size)

    def exists(self, path: str) -> bool:
        return self.stat(path) is not None

    def delete(self, path: str) -> None:
        self._delete_name(self._name(path), path)

    def _delete_name(self, name: str, path: str) -> None:
        try:
            self._container.delete_blob(name, delete_snapshots="include", timeout=self._timeout)
        except ResourceNotFoundError:
            pass
        except AzureError as exc:
            raise self._fail("delete", path, exc) from exc

    def _root(self, prefix: str) -> str:
        key = self.storage._normalize_name(clean_name(prefix)).strip("/")
        return f"{key}/" if key else ""

    def _strip(self) -> int:
        location = self.storage.location.strip("/")
        return len(location) + 1 if location else 0

    def list(self, prefix: str) -> Iterator[str]:
        strip = self._strip()
        try:
            for blob in self._container.list_blobs(name_starts_with=self._root(prefix), timeout=self._timeout):
                yield blob.name[strip:]
        except AzureError as exc:
            raise self._fail("list", prefix, exc) from exc

    def redirect_url(self, path: str, *, expires_in: int) -> str:
        # django-storages signs a SAS (account key or user delegation key) and applies custom_domain.
        return self.storage.url(path, expire=expires_in)

    def _source_url(self, blob) -> str:  # noqa: ANN001 - azure's BlobClient
        """A read-only SAS URL of ``blob`` for server-side copies (never on the custom domain)."""
        storage = self.storage
        if not storage.account_key and storage.token_credential is None:
            return blob.url  # authenticated by the configured sas_token, already in the URL
        expiry = datetime.now(timezone.utc) + COPY_SAS_LIFETIME
        sas = generate_blob_sas(
            storage.account_name,
            storage.azure_container,
            blob.blob_name,
            account_key=storage.account_key,
            user_delegation_key=storage.get_user_delegation_key(expiry.replace(tzinfo=None)),
            permission=BlobSasPermissions(read=True),
            expiry=expiry,
        )
        return f"{blob.url}?{sas}"

    # -- uploads ---------------------------------------------------------------------------------
    def upload_begin(self, upload_path: str) -> dict:
        try:
            self._blob(upload_path).upload_blob(b"", overwrite=True, metadata={SIZE_META: "0"}, timeout=self._timeout)
        except AzureError as exc:
            raise self._fail("begin upload", upload_path, exc) from exc
        return {"azure_blocks": [], "size": 0}

    def _stage(self, blob, data: bytes | bytearray) -> list:  # noqa: ANN001 - azure's BlobClient
        block_id = _block_id()
        blob.stage_block(block_id, bytes(data), length=len(data), timeout=self._timeout)
        return [block_id, len(data)]

    def upload_append(self, upload_path: str, state: dict, offset: int, chunks: Iterable[bytes]) -> tuple[int, dict]:
        blocks = [list(block) for block in state["azure_blocks"]]
        size = state["size"]
        if offset != size:
            # Staged blocks cannot be cut, only dropped whole.
            while blocks and size > offset:
                size -= blocks.pop()[1]
            if size != offset:
                raise StorageError(f"upload {upload_path} is at {state['size']} bytes, cannot append at {offset}")
        blob = self._blob(upload_path)
        written = 0
        buffer = bytearray()
        try:
            for chunk in chunks:
                buffer += chunk
                written += len(chunk)
                while len(buffer) >= BLOCK:
                    blocks.append(self._stage(blob, buffer[:BLOCK]))
                    del buffer[:BLOCK]
            if buffer:
                blocks.append(self._stage(blob, buffer))
            # Last: the size moves only when every block is staged (and the upload still exists).
            blob.set_blob_metadata({SIZE_META: str(size + written)}, timeout=self._timeout)
        except ResourceNotFoundError as exc:
            raise ObjectNotFound(upload_path) from exc
        except AzureError as exc:
            raise self._fail("append to", upload_path, exc) from exc
        return written, {**state, "azure_blocks": blocks, "size": size + written}

    def upload_commit(self, upload_path: str, state: dict, final_path: str, size: int) -> None:
        blocks = [list(block) for block in state["azure_blocks"]]
        if not 0 <= size <= state["size"]:
            raise StorageError(f"cannot commit {size} bytes of upload {upload_path}: it holds {state['size']}")
        blob = self._blob(upload_path)
        try:
            # Content-addressed: a blob already at the final path holds these very bytes.
            if not self.exists(final_path):
                properties = blob.get_blob_properties(timeout=self._timeout)
                committed = (properties.metadata or {}).get(SIZE_META) is None
                if not (committed and properties.size == size):  # else: a retried commit that got this far
                    self._commit_blocks(blob, upload_path, blocks, size)
                self._copy(blob, final_path, size)
        except ResourceNotFoundError as exc:
            raise ObjectNotFound(upload_path) from exc
        except AzureError as exc:
            raise self._fail("commit", upload_path, exc) from exc
        self.delete(upload_path)

    def _commit_blocks(self, blob, upload_path: str, blocks: list, size: int) -> None:  # noqa: ANN001
        """Commit exactly the first ``size`` bytes of the staged blocks on the upload blob."""
        keep: list[str] = []
        total = 0
        for block_id, length in blocks:
            if total + length > size:
                break
            keep.append(block_id)
            total += length
        settings = self._content_settings(upload_path)
        if total == size:
            blob.commit_block_list([BlobBlock(block_id) for block_id in keep], content_settings=settings, timeout=self._timeout)
            return
        # A block straddles ``size`` (bytes of a failed chunk past it): commit it to read it back,
        # then restage its first bytes as a new block and commit the list again.
        straddling = blocks[len(keep)][0]
        blob.commit_block_list([BlobBlock(block_id) for block_id in [*keep, straddling]], timeout=self._timeout)
        head = blob.download_blob(offset=total, length=size - total, timeout=self._timeout).readall()
        replacement = self._stage(blob, head)[0]
        blob.commit_block_list([BlobBlock(block_id) for block_id in [*keep, replacement]], content_settings=settings, timeout=self._timeout)

    def _copy(self, source, final_path: str, size: int) -> None:  # noqa: ANN001 - azure's BlobClient
        """Server-side copy of the committed ``source`` to ``final_path``; the target appears whole."""
        target = self._blob(final_path)
        source_url = self._source_url(source)
        if size <= SYNC_COPY_MAX:
            copied = target.start_copy_from_url(source_url, requires_sync=True, timeout=self._timeout)
            if copied.get("copy_status") != "success":  # a synchronous copy either succeeds or raises
                raise StorageError(f"copy to {final_path} ended {copied.get('copy_status')!r}")
            return
        ids = []
        for start in range(0, size, FROM_URL_BLOCK):
            block_id = _block_id()
            target.stage_block_from_url(
                block_id, source_url, source_offset=start, source_length=min(FROM_URL_BLOCK, size - start), timeout=self._timeout
            )
            ids.append(block_id)
        target.commit_block_list([BlobBlock(block_id) for block_id in ids], content_settings=self._content_settings(final_path), timeout=self._timeout)

    def upload_abort(self, upload_path: str, state: dict) -> None:
        # Deleting the blob deletes its uncommitted blocks too.
        self.delete(upload_path)

    def upload_orphans_remove(self, *, older_than: datetime, keep: Collection[str]) -> int:
        strip = self._strip()
        try:
            entries = [
                (blob.name[strip:], blob.last_modified or blob.creation_time)
                for blob in self._container.list_blobs(
                    name_starts_with=self._root(UPLOADS_PREFIX), include=["uncommittedblobs"], timeout=self._timeout
                )
            ]
        except AzureError as exc:
            raise self._fail("list", UPLOADS_PREFIX, exc) from exc
        stale = stale_uploads(entries, older_than=older_than, keep=keep)
        for paths in stale.values():
            for path in paths:
                self.delete(path)
        return len(stale)

    def write_atomic(self, path: str, chunks: Iterable[bytes]) -> int:
        """One Put Blob when it fits in a block, else staged blocks and one Put Block List."""
        blob = self._blob(path)
        buffer = bytearray()
        ids: list[str] = []
        size = 0
        try:
            for chunk in chunks:
                buffer += chunk
                size += len(chunk)
                while len(buffer) >= BLOCK:
                    ids.append(self._stage(blob, buffer[:BLOCK])[0])
                    del buffer[:BLOCK]
            settings = self._content_settings(path)
            if not ids:
                blob.upload_blob(bytes(buffer), overwrite=True, content_settings=settings, timeout=self._timeout)
                return size
            if buffer:
                ids.append(self._stage(blob, buffer)[0])
            blob.commit_block_list([BlobBlock(block_id) for block_id in ids], content_settings=settings, timeout=self._timeout)
        except AzureError as exc:
            # Blocks staged before the failure stay uncommitted (invisible); Azure drops them after a week.
            raise self._fail("write", path, exc) from exc
        return size
