"""What ``DjangoStorageBackend`` does on an S3 (or S3-compatible) django-storages backend.

Reads are ranged GETs streamed from the response body. Uploads are S3 multipart uploads whose
state (upload id, parts and their ETags, committed size) lives in the caller's upload row, so any
process may continue them:

- ``uploads/<id>/data`` holds the *tail*: bytes not yet sent as a part (always < 5 MiB, the S3
  minimum part size). Its ``moorage-upload-size`` metadata is the upload's committed size, which
  is what ``stat`` reports for it. It is rewritten only at the end of a successful append, so a
  failed append leaves the upload (state, tail and size) where it was; parts the failed append
  did send carry part numbers the state does not list and are dropped at completion.
- ``uploads/<id>/blob`` is the multipart upload's key; completion copies it to the blob path
  (server side, atomic for readers) unless the blob is already there, then deletes both objects.

Incomplete multipart uploads whose rows were lost are invisible to ``list``;
``upload_orphans_remove`` (run by the upload-cleanup task) aborts them, and a bucket lifecycle rule
``AbortIncompleteMultipartUpload`` is a good second net.
"""

from __future__ import annotations

import io
import posixpath
from datetime import datetime
from typing import BinaryIO, Collection, Iterable, Iterator

from botocore.exceptions import BotoCoreError, ClientError
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

from storagebackends.base import ObjectNotFound, ObjectStat, StorageError
from storagebackends.orphans import stale_uploads
from storagebackends.paths import UPLOADS_PREFIX

#: S3's smallest part (every part but the last).
MIN_PART = 5 * 1024 * 1024
#: Parts grow with their number so 10,000 parts (S3's maximum) cover ~440 GB.
BASE_PART = 8 * 1024 * 1024
#: S3 metadata key (sent as ``x-amz-meta-moorage-upload-size``) with an upload's committed size.
SIZE_META = "moorage-upload-size"

_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchUpload"}


def _missing(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    return str(error.get("Code")) in _MISSING or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404


def _part_size(part_number: int) -> int:
    return BASE_PART * (1 + part_number // 1000)


def _blob_key_of(upload_path: str) -> str:
    return posixpath.join(posixpath.dirname(upload_path), "blob")


class S3Objects:
    """Object operations on one S3 bucket (and key prefix) of a django-storages ``S3Storage``."""

    def __init__(self, storage: S3Storage) -> None:
        self.storage = storage

    # -- helpers ---------------------------------------------------------------------------------
    @property
    def _client(self):  # noqa: ANN202 - boto3 clients are generated classes
        return self.storage.connection.meta.client

    @property
    def _bucket(self) -> str:
        return self.storage.bucket_name

    def _key(self, path: str) -> str:
        return self.storage._normalize_name(clean_name(path))

    def _write_args(self, key: str) -> dict:
        """The configured object parameters (``object_parameters``, ``default_acl``): encryption,
        storage class, ACL, content type."""
        return self.storage._get_write_parameters(key)

    def _fail(self, action: str, path: str, exc: Exception) -> StorageError:
        return StorageError(f"cannot {action} {path}: {exc}")

    # -- reads -----------------------------------------------------------------------------------
    def open(self, path: str, offset: int = 0) -> BinaryIO:
        arguments = {"Range": f"bytes={offset}-"} if offset else {}
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=self._key(path), **arguments)
        except ClientError as exc:
            if _missing(exc):
                raise ObjectNotFound(path) from exc
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":  # offset at (or past) the end
                return io.BytesIO(b"")
            raise self._fail("open", path, exc) from exc
        except BotoCoreError as exc:
            raise self._fail("open", path, exc) from exc
        body = response["Body"]  # botocore's StreamingBody: read(n) streams, close() releases
        declared = response.get("Metadata", {}).get(SIZE_META)
        content_range = response.get("ContentRange")
        total = int(content_range.rpartition("/")[2]) if content_range else response["ContentLength"]
        if declared is not None and int(declared) != total:
            body.close()
            raise StorageError(f"{path} is an S3 multipart upload in progress; it cannot be read back")
        return body

    def _head(self, path: str) -> dict | None:
        try:
            return self._client.head_object(Bucket=self._bucket, Key=self._key(path))
        except ClientError as exc:
            if _missing(exc):
                return None
            raise self._fail("stat", path, exc) from exc
        except BotoCoreError as exc:
            raise self._fail("stat", path, exc) from exc

    def stat(self, path: str) -> ObjectStat | None:
        head = self._head(path)
        if head is None:
            return None
        declared = head.get("Metadata", {}).get(SIZE_META)
        return ObjectStat(size=int(declared) if declared is not None else head["ContentLength"])

    def delete(self, path: str) -> None:
        try:
            self._client.delete_object(Bucket=self._bucket, Key=self._key(path))
        except ClientError as exc:
            if not _missing(exc):
                raise self._fail("delete", path, exc) from exc
        except BotoCoreError as exc:
            raise self._fail("delete", path, exc) from exc

    def list(self, prefix: str) -> Iterator[str]:
        key = self._key(prefix).rstrip("/")
        root = f"{key}/" if key else ""
        location = self.storage.location.strip("/")
        strip = len(location) + 1 if location else 0
        try:
            for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=root):
                for entry in page.get("Contents", ()):
                    yield entry["Key"][strip:]
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("list", prefix, exc) from exc

    def redirect_url(self, path: str, *, expires_in: int) -> str:
        # django-storages signs the URL (or uses custom_domain / CloudFront as configured).
        return self.storage.url(path, expire=expires_in)

    # -- uploads ---------------------------------------------------------------------------------
    def upload_begin(self, upload_path: str) -> dict:
        try:
            key = self._key(_blob_key_of(upload_path))
            created = self._client.create_multipart_upload(Bucket=self._bucket, Key=key, **self._write_args(key))
            self._put_tail(upload_path, b"", 0)
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("begin upload", upload_path, exc) from exc
        return {"s3_upload_id": created["UploadId"], "parts": [], "size": 0, "tail": 0}

    def _put_tail(self, upload_path: str, data: bytes | bytearray, size: int) -> None:
        key = self._key(upload_path)
        arguments = self._write_args(key)
        arguments["Metadata"] = {**arguments.get("Metadata", {}), SIZE_META: str(size)}
        self._client.put_object(Bucket=self._bucket, Key=key, Body=bytes(data), **arguments)

    def _read_tail(self, upload_path: str, length: int) -> bytearray:
        if length <= 0:
            return bytearray()
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=self._key(upload_path), Range=f"bytes=0-{length - 1}")
        except ClientError as exc:
            if _missing(exc):
                raise ObjectNotFound(upload_path) from exc
            raise
        data = bytearray(response["Body"].read())
        if len(data) != length:
            raise StorageError(f"upload tail of {upload_path} has {len(data)} bytes, expected {length}")
        return data

    def _upload_part(self, upload_path: str, state: dict, number: int, data: bytes | bytearray) -> list:
        response = self._client.upload_part(
            Bucket=self._bucket,
            Key=self._key(_blob_key_of(upload_path)),
            UploadId=state["s3_upload_id"],
            PartNumber=number,
            Body=bytes(data),
        )
        return [number, response["ETag"], len(data)]

    def upload_append(self, upload_path: str, state: dict, offset: int, chunks: Iterable[bytes]) -> tuple[int, dict]:
        size, tail_size = state["size"], state["tail"]
        parts = [list(part) for part in state["parts"]]
        if offset != size:
            # Only bytes still in the tail can be dropped; sent parts are final.
            if not size - tail_size <= offset < size:
                raise StorageError(f"upload {upload_path} is at {size} bytes, cannot append at {offset}")
            tail_size -= size - offset
            size = offset
        written = 0
        try:
            buffer = self._read_tail(upload_path, tail_size)
            for chunk in chunks:
                buffer += chunk
                written += len(chunk)
                target = _part_size(len(parts) + 1)
                while len(buffer) >= target:
                    parts.append(self._upload_part(upload_path, state, len(parts) + 1, buffer[:target]))
                    del buffer[:target]
                    target = _part_size(len(parts) + 1)
            if len(buffer) >= MIN_PART:  # keep the tail under the minimum part size
                parts.append(self._upload_part(upload_path, state, len(parts) + 1, buffer))
                buffer = bytearray()
            self._put_tail(upload_path, buffer, size + written)
        except (ClientError, BotoCoreError) as exc:
            if isinstance(exc, ClientError) and _missing(exc):
                raise ObjectNotFound(upload_path) from exc
            raise self._fail("append to", upload_path, exc) from exc
        return written, {**state, "parts": parts, "size": size + written, "tail": len(buffer)}

    def upload_commit(self, upload_path: str, state: dict, final_path: str, size: int) -> None:
        parts = [list(part) for part in state["parts"]]
        sent = sum(part[2] for part in parts)
        if not sent <= size <= state["size"]:
            raise StorageError(f"cannot commit {size} bytes of upload {upload_path}: {sent} already sent, {state['size']} held")
        blob_key = _blob_key_of(upload_path)
        final_key = self._key(final_path)
        try:
            # Content-addressed: an object already at the blob path holds these very bytes.
            if not parts:
                # Smaller than one part: one PUT, atomic for readers.
                if not self.exists(final_path):
                    tail = self._read_tail(upload_path, size - sent)
                    self._client.put_object(Bucket=self._bucket, Key=final_key, Body=bytes(tail), **self._write_args(final_key))
                self._abort_multipart(upload_path, state)
            else:
                completed = self._head(blob_key)  # a commit that failed after completing, retried
                if completed is None or completed["ContentLength"] != size:
                    tail = self._read_tail(upload_path, size - sent)
                    if tail:
                        parts.append(self._upload_part(upload_path, state, len(parts) + 1, tail))
                    self._client.complete_multipart_upload(
                        Bucket=self._bucket,
                        Key=self._key(blob_key),
                        UploadId=state["s3_upload_id"],
                        MultipartUpload={"Parts": [{"PartNumber": number, "ETag": etag} for number, etag, _size in parts]},
                    )
                if not self.exists(final_path):
                    # Server side (multipart copy past 8 MiB); the object appears whole.
                    self._client.copy(
                        {"Bucket": self._bucket, "Key": self._key(blob_key)},
                        self._bucket,
                        final_key,
                        ExtraArgs=self._write_args(final_key),
                    )
        except (ClientError, BotoCoreError) as exc:
            if isinstance(exc, ClientError) and _missing(exc):
                raise ObjectNotFound(upload_path) from exc
            raise self._fail("commit", upload_path, exc) from exc
        self.delete(blob_key)
        self.delete(upload_path)

    def _abort_multipart(self, upload_path: str, state: dict) -> None:
        """Abort the multipart upload; one already completed or aborted is not an error."""
        upload_id = state.get("s3_upload_id")
        if not upload_id:
            return
        try:
            self._client.abort_multipart_upload(Bucket=self._bucket, Key=self._key(_blob_key_of(upload_path)), UploadId=upload_id)
        except ClientError as exc:
            if not _missing(exc):
                raise self._fail("abort", upload_path, exc) from exc
        except BotoCoreError as exc:
            raise self._fail("abort", upload_path, exc) from exc

    def upload_abort(self, upload_path: str, state: dict) -> None:
        self._abort_multipart(upload_path, state)
        self.delete(_blob_key_of(upload_path))
        self.delete(upload_path)

    def exists(self, path: str) -> bool:
        return self._head(path) is not None

    def upload_orphans_remove(self, *, older_than: datetime, keep: Collection[str]) -> int:
        """Abort the multipart uploads and delete the objects of stale uploads (see the adapter)."""
        root = f"{self._key(UPLOADS_PREFIX).rstrip('/')}/"
        location = self.storage.location.strip("/")
        strip = len(location) + 1 if location else 0
        entries: list = []
        multipart: dict[str, list[str]] = {}  # relative key -> multipart upload ids
        try:
            for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=root):
                entries.extend((entry["Key"][strip:], entry["LastModified"]) for entry in page.get("Contents", ()))
            for page in self._client.get_paginator("list_multipart_uploads").paginate(Bucket=self._bucket, Prefix=root):
                for entry in page.get("Uploads", ()):
                    entries.append((entry["Key"][strip:], entry["Initiated"]))
                    multipart.setdefault(entry["Key"][strip:], []).append(entry["UploadId"])
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("list", UPLOADS_PREFIX, exc) from exc
        stale = stale_uploads(entries, older_than=older_than, keep=keep)
        for paths in stale.values():
            for path in dict.fromkeys(paths):
                for upload_id in multipart.pop(path, ()):
                    try:
                        self._client.abort_multipart_upload(Bucket=self._bucket, Key=self._key(path), UploadId=upload_id)
                    except ClientError as exc:
                        if not _missing(exc):
                            raise self._fail("abort", path, exc) from exc
                    except BotoCoreError as exc:
                        raise self._fail("abort", path, exc) from exc
                self.delete(path)
        return len(stale)

    def write_atomic(self, path: str, chunks: Iterable[bytes]) -> int:
        """One PUT when the object fits in a part, else a multipart upload aborted on failure."""
        key = self._key(path)
        buffer = bytearray()
        parts: list = []
        upload_id: str | None = None
        size = 0
        try:
            for chunk in chunks:
                buffer += chunk
                size += len(chunk)
                target = _part_size(len(parts) + 1)
                while len(buffer) >= target:
                    if upload_id is None:
                        created = self._client.create_multipart_upload(Bucket=self._bucket, Key=key, **self._write_args(key))
                        upload_id = created["UploadId"]
                    response = self._client.upload_part(
                        Bucket=self._bucket, Key=key, UploadId=upload_id, PartNumber=len(parts) + 1, Body=bytes(buffer[:target])
                    )
                    parts.append({"PartNumber": len(parts) + 1, "ETag": response["ETag"]})
                    del buffer[:target]
                    target = _part_size(len(parts) + 1)
            if upload_id is None:
                self._client.put_object(Bucket=self._bucket, Key=key, Body=bytes(buffer), **self._write_args(key))
                return size
            if buffer or not parts:
                response = self._client.upload_part(
                    Bucket=self._bucket, Key=key, UploadId=upload_id, PartNumber=len(parts) + 1, Body=bytes(buffer)
                )
                parts.append({"PartNumber": len(parts) + 1, "ETag": response["ETag"]})
            self._client.complete_multipart_upload(
                Bucket=self._bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException as exc:
            if upload_id is not None:
                try:
                    self._client.abort_multipart_upload(Bucket=self._bucket, Key=key, UploadId=upload_id)
                except (ClientError, BotoCoreError):
                    pass  # the bucket's lifecycle rule reclaims it
            if isinstance(exc, (ClientError, BotoCoreError)):
                raise self._fail("write", path, exc) from exc
            raise
        return size
