"""Blob uploads: sessions, chunks, completion, mounts and blob deletion.

An upload's state lives in its database row (byte count, saved hash state, backend state) and
in storage, never in process memory, so each chunk may arrive at a different process or host.
A writer claims the session with a conditional UPDATE (a lease) while it streams one chunk;
the bytes are hashed as they stream and the hash state is saved with the new byte count.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Iterator

from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from common.errors import (
    BlobUnknownError,
    BlobUploadInvalidError,
    BlobUploadUnknownError,
    DigestInvalidError,
    PayloadTooLargeError,
    RangeNotSatisfiableError,
    SizeInvalidError,
    UnavailableError,
    UnsupportedError,
)
from common.grammar import parse_digest
from common.resumable_hash import ResumableHash
from repositories.lookup_invalidation import repository_lookups_invalidate
from repositories.models import Blob, BlobPlacement, BlobUpload, Manifest, ManifestBlob, Repository, UploadedBlob
from repositories.selectors import blob_find_in_repository
from repositories.services.quotas import QuotaExceededError, quota_check_upload, quota_guard_chunks
from storagebackends.base import ObjectNotFound, StorageError, WriterFenced
from storagebackends.paths import blob_path, upload_path
from storagebackends.registry import get_location, preferred_location

logger = logging.getLogger(__name__)


def _writer_lease() -> timedelta:
    """How long a writer's lease on an upload session lasts without renewal. A live writer renews
    it while the chunk streams (``_Lease``); a request killed mid-chunk stops renewing, so its
    lease lapses this long after its last renewal and the client may resume."""
    return timedelta(seconds=settings.MOORAGE_UPLOADS["writer_lease_s"])


def _max_blob_bytes() -> int:
    return settings.MOORAGE_LIMITS["max_blob_bytes"] or 0


def _link_grace() -> timedelta:
    return timedelta(seconds=settings.MOORAGE_UPLOADS["link_grace_s"])


def link_grace() -> timedelta:
    """How long an upload link keeps a blob in its repository without a manifest (``uploads.link_grace_s``)."""
    return _link_grace()


def blob_upload_start(*, repository: Repository, algorithm: str = "sha256") -> BlobUpload:
    """Open an upload session in the preferred storage location (QuotaExceededError when the
    namespace is at its quota's Reject threshold)."""
    quota_check_upload(repository=repository)
    backend = preferred_location()
    upload_id = uuid.uuid4().hex
    try:
        state = backend.upload_begin(upload_path(upload_id))
    except StorageError as exc:
        raise UnavailableError(f"storage unavailable: {exc}") from exc
    return BlobUpload.objects.create(
        id=upload_id,
        repository=repository,
        location=backend.name,
        hash_algorithm=algorithm,
        hash_state=ResumableHash.new(algorithm).state(),
        storage_state=state,
    )


#: What an upload id can look like (ours are uuid4 hex); anything else is unknown without a query
#: (PostgreSQL refuses NUL characters in a query parameter outright).
_UPLOAD_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")


def _claim_sql(connection) -> str:
    quote = connection.ops.quote_name
    meta = BlobUpload._meta
    columns = ", ".join(quote(field.column) for field in meta.concrete_fields)
    token, expires = quote("writer_token"), quote("writer_expires_at")
    return (
        f"UPDATE {quote(meta.db_table)} SET {token} = %s, {expires} = %s"
        f" WHERE {quote('id')} = %s AND {quote('repository_id')} = %s AND ({token} = '' OR {expires} < %s)"
        f" RETURNING {columns}"
    )


def blob_upload_claim(*, repository: Repository, upload_id: str) -> tuple[BlobUpload, str]:
    """Load an upload session of ``repository`` and take its writer lease, in one statement
    (``UPDATE ... RETURNING``): a chunk request needs no separate read. Returns the session as
    it stands and the lease token for ``blob_upload_append``. Raises BLOB_UPLOAD_UNKNOWN, or
    BLOB_UPLOAD_INVALID while another request writes to it."""
    if not _UPLOAD_ID_RE.match(upload_id):
        raise BlobUploadUnknownError(detail={"upload": upload_id[:64]})
    connection = connections[BlobUpload.objects.db]
    token, now = uuid.uuid4().hex, timezone.now()
    adapt = connection.ops.adapt_datetimefield_value
    rows = list(BlobUpload.objects.raw(_claim_sql(connection), [token, adapt(now + _writer_lease()), upload_id, repository.pk, adapt(now)]))
    if not rows:
        if not BlobUpload.objects.filter(id=upload_id, repository=repository).exists():
            raise BlobUploadUnknownError(detail={"upload": upload_id[:64]})
        raise BlobUploadInvalidError("another request is writing to this upload", detail={"upload": upload_id})
    upload = rows[0]
    upload.repository = repository  # the caller's instance: the quota checks need it, without a query
    return upload, token


def blob_upload_get(*, repository: Repository, upload_id: str) -> BlobUpload:
    upload = BlobUpload.objects.filter(id=upload_id, repository=repository).first() if _UPLOAD_ID_RE.match(upload_id) else None
    if upload is None:
        raise BlobUploadUnknownError(detail={"upload": upload_id[:64]})
    upload.repository = repository  # the caller's instance: the quota checks need it, without a query
    return upload


@dataclass
class BodyStream:
    """A request body as chunks, with the length the client declared (None when chunked)."""

    chunks: Iterable[bytes]
    declared_length: int | None


class _Lease:
    """A writer's claim on an upload session, renewed while its chunk streams (a context manager).

    The lease is short (``uploads.writer_lease_s``) so that a writer killed mid-chunk blocks a
    resume only briefly. While the request lives, this process's ``_LeaseRenewer`` renews it every
    quarter of its length with one conditional UPDATE on the writer's own token, however long a
    body read blocks (a slow or stalled client is failed by ``server.body_idle_timeout_s``, not by
    losing the upload to another request mid-write). A chunk shorter than that is never renewed.
    If a renewal finds the token gone (the lease lapsed anyway: the process froze, or the
    database was unreachable for longer than the lease, and another request claimed the upload),
    ``check`` stops this writer at its next body read.

    Fencing by the writer's own clock as well: another request may claim the upload once the
    lease expires, so this writer stops writing when its last successful renewal is older than
    ``SAFE_FRACTION`` of the lease (the renewals failed, or the process was frozen), before the
    database would let anyone else in. Both stops raise ``WriterFenced`` inside the backend's
    write loop, which then leaves the upload's bytes alone.
    """

    SAFE_FRACTION = 0.75

    def __init__(self, upload: BlobUpload, token: str) -> None:
        self.upload_id = upload.id
        self.token = token
        self.lost = False
        self.renewed_at = time.monotonic()
        self._safe_for = settings.MOORAGE_UPLOADS["writer_lease_s"] * self.SAFE_FRACTION

    def __enter__(self) -> "_Lease":
        _renewer.add(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        _renewer.remove(self)

    def renew(self) -> None:
        renewed = BlobUpload.objects.filter(id=self.upload_id, writer_token=self.token).update(
            writer_expires_at=timezone.now() + _writer_lease()
        )
        if renewed:
            self.renewed_at = time.monotonic()
        else:
            self.lost = True

    def check(self) -> None:
        if self.lost:
            raise WriterFenced("upload was taken over by another request while this chunk streamed")
        if time.monotonic() - self.renewed_at > self._safe_for:
            raise WriterFenced("the writer lease could not be renewed in time")


class _LeaseRenewer:
    """One daemon thread per process renews the leases of every chunk the process is streaming
    (a thread per request cost a start and a join on every PATCH). It wakes every sixteenth of
    the lease and renews each lease whose last renewal is a quarter of the lease old, which
    leaves nearly half a lease of margin before ``_Lease.SAFE_FRACTION``. Started on first use in
    each process: gunicorn and Celery fork their workers after the imports, and a forked child
    starts afresh (no thread, no leases, a new lock)."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._leases: set[_Lease] = set()
        self._running = False

    def add(self, lease: _Lease) -> None:
        with self._lock:
            if not self._running:
                self._running = True
                threading.Thread(target=self._run, name="upload-lease-renewer", daemon=True).start()
            self._leases.add(lease)

    def remove(self, lease: _Lease) -> None:
        with self._lock:
            self._leases.discard(lease)

    def _run(self) -> None:
        while True:
            lease_s = settings.MOORAGE_UPLOADS["writer_lease_s"]
            time.sleep(lease_s / 16)
            with self._lock:
                due = [lease for lease in self._leases if time.monotonic() - lease.renewed_at >= lease_s / 4]
            if not due:
                continue
            try:
                for lease in due:
                    lease.renew()
            except Exception:  # noqa: BLE001 - those leases then lapse by themselves; check() fences their writers
                logger.warning("could not renew upload writer leases", exc_info=True)
            finally:
                connections.close_all()  # this thread's own connection: renewals are rare


_renewer = _LeaseRenewer()


def _claim(upload: BlobUpload) -> str:
    """Take the writer lease on ``upload`` at its current byte count, or explain why not."""
    token = uuid.uuid4().hex
    now = timezone.now()
    claimed = (
        BlobUpload.objects.filter(id=upload.id, byte_count=upload.byte_count)
        .filter(Q(writer_token="") | Q(writer_expires_at__lt=now))
        .update(writer_token=token, writer_expires_at=now + _writer_lease())
    )
    if claimed:
        return token
    current = BlobUpload.objects.filter(id=upload.id).first()
    if current is None:
        raise BlobUploadUnknownError(detail={"upload": upload.id})
    if current.byte_count != upload.byte_count:
        raise _range_error(current)
    raise BlobUploadInvalidError("another request is writing to this upload", detail={"upload": upload.id})


def _release(upload: BlobUpload, token: str) -> None:
    BlobUpload.objects.filter(id=upload.id, writer_token=token).update(writer_token="", writer_expires_at=None)


def _range_error(upload: BlobUpload) -> RangeNotSatisfiableError:
    error = RangeNotSatisfiableError(
        "chunk does not start where the upload ends", detail={"upload": upload.id, "offset": upload.byte_count}
    )
    error.upload = upload  # the view adds Location and Range
    return error


def _refuse_declared_oversize(*, already: int, declared: int | None) -> None:
    """Refuse (413 SIZE_INVALID) before a byte is read when the declared length alone would take
    the blob past ``limits.max_blob_bytes``; ``_hashed`` enforces it again while streaming
    (chunked bodies declare nothing)."""
    limit = _max_blob_bytes()
    if limit and declared is not None and already + declared > limit:
        raise PayloadTooLargeError(f"blob exceeds the maximum size of {limit} bytes", detail={"max_bytes": limit})


def _hashed(
    chunks: Iterable[bytes], hasher: ResumableHash, *, already: int, declared: int | None, lease: _Lease | None = None
) -> Iterator[bytes]:
    """Feed chunks through ``hasher`` while enforcing the declared length and the size limit
    (and stopping once the writer's ``lease`` was lost)."""
    limit = _max_blob_bytes()
    received = 0
    for chunk in chunks:
        if lease is not None:
            lease.check()
        if not chunk:
            continue
        received += len(chunk)
        if declared is not None and received > declared:
            raise SizeInvalidError("body is longer than Content-Length")
        if limit and already + received > limit:
            raise PayloadTooLargeError(f"blob exceeds the maximum size of {limit} bytes", detail={"max_bytes": limit})
        hasher.update(chunk)
        yield chunk
    if declared is not None and received != declared:
        raise SizeInvalidError(
            "body ended before Content-Length bytes arrived", detail={"declared": declared, "received": received}
        )


def _refuse_misplaced_chunk(upload: BlobUpload, body: BodyStream, content_range: tuple[int, int] | None) -> None:
    if content_range is not None:
        start, end = content_range
        if start != upload.byte_count:
            raise _range_error(upload)
        if body.declared_length is not None and body.declared_length != end - start + 1:
            raise _range_error(upload)
    _refuse_declared_oversize(already=upload.byte_count, declared=body.declared_length)


def blob_upload_append(
    *, upload: BlobUpload, body: BodyStream, content_range: tuple[int, int] | None = None, token: str | None = None
) -> BlobUpload:
    """Stream one chunk onto the end of ``upload``.

    Raises RangeNotSatisfiableError (416) when ``content_range`` does not start at the current
    end, SizeInvalidError when the body and its declared length disagree. A failed chunk leaves
    the upload as it was before the chunk. ``token``: the writer lease the caller already took
    with ``blob_upload_claim`` (released here when the chunk is refused or fails); without it
    the lease is taken here.
    """
    if token is None:
        _refuse_misplaced_chunk(upload, body, content_range)
        token = _claim(upload)
    else:
        try:
            _refuse_misplaced_chunk(upload, body, content_range)
        except BaseException:
            _release(upload, token)
            raise
    try:
        hasher = ResumableHash.restore(upload.hash_algorithm, bytes(upload.hash_state))
        backend = get_location(upload.location)
        try:
            with _Lease(upload, token) as lease:
                written, state = backend.upload_append(
                    upload_path(upload.id),
                    upload.storage_state,
                    upload.byte_count,
                    _hashed(
                        quota_guard_chunks(repository=upload.repository, already=upload.byte_count, chunks=body.chunks),
                        hasher, already=upload.byte_count, declared=body.declared_length, lease=lease,
                    ),
                )
        except WriterFenced as exc:
            raise BlobUploadInvalidError(f"{exc}; resume from the upload's current offset", detail={"upload": upload.id}) from exc
        except ObjectNotFound as exc:
            raise BlobUploadUnknownError("upload data is gone", detail={"upload": upload.id}) from exc
        except StorageError as exc:
            raise UnavailableError(f"storage unavailable: {exc}") from exc
    except QuotaExceededError:
        blob_upload_cancel(upload=upload)  # a push refused by the quota keeps none of its bytes
        raise
    except BaseException:
        _release(upload, token)
        raise
    now = timezone.now()
    hash_state = hasher.state()
    # Conditional on the byte count we started from as well as the token: together they make
    # the row's new byte count exactly ours, so it is set here without reading the row back.
    updated = BlobUpload.objects.filter(id=upload.id, writer_token=token, byte_count=upload.byte_count).update(
        byte_count=upload.byte_count + written,
        chunk_count=F("chunk_count") + 1,
        hash_state=hash_state,
        storage_state=state,
        writer_token="",
        writer_expires_at=None,
        updated=now,
    )
    if not updated:  # the lease expired and someone else took over: their view wins
        raise BlobUploadInvalidError("upload was taken over by another request", detail={"upload": upload.id})
    upload.byte_count += written
    upload.chunk_count += 1
    upload.hash_state = hash_state
    upload.storage_state = state
    upload.writer_token, upload.writer_expires_at, upload.updated = "", None, now
    return upload


def _digest_of_upload(upload: BlobUpload, algorithm: str) -> str:
    if algorithm == upload.hash_algorithm:
        return f"{algorithm}:{ResumableHash.restore(algorithm, bytes(upload.hash_state)).hexdigest()}"
    # The client named another algorithm than the one we hashed with: read the data once more.
    hasher = hashlib.new(algorithm)
    chunk_size = settings.MOORAGE_UPLOADS["chunk_bytes"]
    with get_location(upload.location).open(upload_path(upload.id)) as handle:
        remaining = upload.byte_count
        while remaining > 0:
            chunk = handle.read(min(chunk_size, remaining))
            if not chunk:
                break
            hasher.update(chunk)
            remaining -= len(chunk)
    return f"{algorithm}:{hasher.hexdigest()}"


def blob_upload_complete(
    *, upload: BlobUpload, digest: str, body: BodyStream | None = None, content_range: tuple[int, int] | None = None
) -> Blob:
    """Append the optional final chunk, verify ``digest`` and make the blob visible in the repository.

    On a digest mismatch the upload and its data are removed and DIGEST_INVALID is raised;
    nothing is stored.
    """
    expected = parse_digest(digest)
    if body is not None:
        upload = blob_upload_append(upload=upload, body=body, content_range=content_range)
    try:
        quota_check_upload(repository=upload.repository, incoming=upload.byte_count)
    except QuotaExceededError:
        blob_upload_cancel(upload=upload)
        raise
    token = _claim(upload)
    try:
        actual = _digest_of_upload(upload, expected.algorithm)
        if actual != str(expected):
            blob_upload_cancel(upload=upload)
            raise DigestInvalidError(detail={"expected": str(expected), "actual": actual, "size": upload.byte_count})
        blob = _store_blob(upload, actual)
    except BaseException:
        _release(upload, token)
        raise
    BlobUpload.objects.filter(id=upload.id).delete()
    return blob


def blob_upload_monolithic(*, repository: Repository, digest: str, body: BodyStream) -> Blob:
    """A whole blob in one request (``POST ?digest=``): nothing is left behind when it fails."""
    _refuse_declared_oversize(already=0, declared=body.declared_length)
    upload = blob_upload_start(repository=repository, algorithm=parse_digest(digest).algorithm)
    try:
        return blob_upload_complete(upload=upload, digest=digest, body=body)
    except BaseException:
        if BlobUpload.objects.filter(id=upload.id).exists():
            blob_upload_cancel(upload=upload)
        raise


def _locked_blob(digest: str, size: int) -> Blob:
    """The ``Blob`` row for ``digest``, created if needed, locked until the transaction ends.

    The garbage collector deletes a blob only under this same lock, so while it is held the
    blob's row, placements and bytes stay; if the collector removed the row first, a new one
    is made and the caller stores the bytes again.
    """
    for _attempt in range(5):
        blob = Blob.objects.select_for_update().filter(digest=digest).first()
        if blob is not None:
            return blob
        try:
            with transaction.atomic():
                return Blob.objects.create(digest=digest, size=size)
        except IntegrityError:  # created by a concurrent upload of the same content: lock that one
            continue
    raise UnavailableError("could not store the blob: too much contention on its row; retry")


def _placed(blob: Blob, backend_name: str) -> bool:
    if not BlobPlacement.objects.filter(blob=blob, location=backend_name).exists():
        return False
    return get_location(backend_name).exists(blob_path(blob.digest))


def _store_blob(upload: BlobUpload, digest: str) -> Blob:
    """Move the verified upload into content-addressed storage (or drop it if already there)
    and link the blob to the upload's repository, all under the blob's row lock."""
    backend = get_location(upload.location)
    with transaction.atomic():
        blob = _locked_blob(digest, upload.byte_count)
        if _placed(blob, backend.name):
            backend.upload_abort(upload_path(upload.id), upload.storage_state)
        else:
            try:
                backend.upload_commit(upload_path(upload.id), upload.storage_state, blob_path(digest), upload.byte_count)
            except StorageError as exc:
                raise UnavailableError(f"storage unavailable: {exc}") from exc
            BlobPlacement.objects.get_or_create(blob=blob, location=backend.name)
        _link(upload.repository, blob)
    return blob


def blob_store_bytes(*, repository: Repository, data: bytes, digest: str) -> Blob:
    """Store a small blob known in full (the empty JSON config, a descriptor's ``data``)."""
    backend = preferred_location()
    with transaction.atomic():
        blob = _locked_blob(digest, len(data))
        if not _placed(blob, backend.name):
            try:
                backend.write_atomic(blob_path(digest), [data])
            except StorageError as exc:
                raise UnavailableError(f"storage unavailable: {exc}") from exc
            BlobPlacement.objects.get_or_create(blob=blob, location=backend.name)
        _link(repository, blob)
    return blob


def _link(repository: Repository, blob: Blob) -> None:
    """Link ``blob`` to ``repository`` for the grace period (or extend it). The caller holds the
    blob's row lock, so the collector cannot remove the blob under the new link."""
    expires = timezone.now() + _link_grace()
    updated = UploadedBlob.objects.filter(repository=repository, blob=blob).update(expires_at=expires)
    if not updated:
        try:
            with transaction.atomic():
                UploadedBlob.objects.create(repository=repository, blob=blob, expires_at=expires)
        except IntegrityError:
            UploadedBlob.objects.filter(repository=repository, blob=blob).update(expires_at=expires)


def blob_link_to_repository(*, repository: Repository, blob: Blob) -> Blob:
    """Make ``blob`` visible in ``repository`` for the grace period (or extend it).

    Raises BLOB_UNKNOWN when the blob was garbage-collected meanwhile.
    """
    with transaction.atomic():
        locked = Blob.objects.select_for_update().filter(pk=blob.pk).first()
        if locked is None:
            raise BlobUnknownError(detail={"digest": blob.digest})
        _link(repository, locked)
    return locked


def blob_hold_for_push(*, repository: Repository, blob: Blob) -> bool:
    """A client asked whether the repository has ``blob`` (HEAD) and will now skip uploading it:
    keep it linked for the grace period, so the garbage collector cannot delete it between this
    answer and the manifest PUT that references it. Writes only when the link is missing or
    past half its grace, so repeated HEADs cost a read. Returns False when the blob was
    collected meanwhile (the caller answers 404 and the client uploads it)."""
    fresh_until = timezone.now() + _link_grace() / 2
    if UploadedBlob.objects.filter(repository=repository, blob=blob, expires_at__gt=fresh_until).exists():
        return True
    try:
        blob_link_to_repository(repository=repository, blob=blob)
    except BlobUnknownError:
        return False
    return True


def blob_upload_cancel(*, upload: BlobUpload) -> None:
    """Forget the upload and remove its partial data."""
    try:
        get_location(upload.location).upload_abort(upload_path(upload.id), upload.storage_state)
    except StorageError:
        logger.warning("could not remove data of cancelled upload %s; the cleanup task will retry", upload.id)
        BlobUpload.objects.filter(id=upload.id).update(updated=timezone.now() - timedelta(days=365))
        return
    BlobUpload.objects.filter(id=upload.id).delete()


def blob_mount(*, repository: Repository, digest: str, source: Repository) -> Blob | None:
    """Link a blob from ``source`` into ``repository``; None when ``source`` does not have it."""
    blob = blob_find_in_repository(repository=source, digest=digest)
    if blob is None or not BlobPlacement.objects.filter(blob=blob).exists():
        return None
    try:
        return blob_link_to_repository(repository=repository, blob=blob)
    except BlobUnknownError:  # collected a moment ago: the client uploads it instead
        return None


def blob_delete(*, repository: Repository, digest: str) -> None:
    """Unlink a blob from ``repository``. Its bytes go when garbage collection finds it unused.

    Refused (UNSUPPORTED) while a manifest in the repository still references it.
    """
    parse_digest(digest)
    blob = blob_find_in_repository(repository=repository, digest=digest)
    if blob is None:
        raise BlobUnknownError(detail={"digest": digest})
    live_referrers = Manifest.objects.filter(
        repository=repository, deleted_at__isnull=True, blob_links__blob=blob
    ).values_list("digest", flat=True)[:5]
    if live_referrers:
        raise UnsupportedError(
            "blob is referenced by manifests in this repository; delete them first",
            detail={"digest": digest, "manifests": list(live_referrers)},
        )
    with transaction.atomic():
        UploadedBlob.objects.filter(repository=repository, blob=blob).delete()
        ManifestBlob.objects.filter(repository=repository, blob=blob, manifest__deleted_at__isnull=False).delete()
        repository_lookups_invalidate(repository_id=repository.pk)  # cached blob lookups and holds


def stale_uploads(*, now: datetime | None = None, older_than: timedelta | None = None) -> QuerySet[BlobUpload]:
    """Upload sessions idle longer than ``older_than`` (``uploads.stale_after_s``) and not held by a writer."""
    now = now or timezone.now()
    older_than = older_than or timedelta(seconds=settings.MOORAGE_UPLOADS["stale_after_s"])
    return BlobUpload.objects.filter(updated__lt=now - older_than).filter(Q(writer_token="") | Q(writer_expires_at__lt=now))


def stale_uploads_remove(*, older_than: timedelta | None = None, repository: Repository | None = None) -> int:
    """Remove stale upload sessions (``stale_uploads``) with their partial data; returns how many."""
    stale = stale_uploads(older_than=older_than)
    if repository is not None:
        stale = stale.filter(repository=repository)
    removed = 0
    for upload in stale:
        blob_upload_cancel(upload=upload)
        removed += 1
    return removed
