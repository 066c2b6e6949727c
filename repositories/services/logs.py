"""Audit-log rotation (old entries archived to storage as gzip'd JSON lines, then removed) and
exports of a date range (archived and live entries) as one JSON document in storage.

Rotation is safe to re-run and to interrupt. Each batch is:

1. stream the oldest ``archive_batch_size`` entries older than the cutoff into a new object
   (``write_atomic``: visible only when complete) under a path no other attempt uses;
2. in ONE transaction: delete exactly the ids written and mark the archive row (created, incomplete,
   before the object was written) complete; if fewer rows were deleted than written (another
   rotation got there first) the transaction is rolled back and the object and row removed.

A crash before step 2 commits leaves the entries in the database (the next run archives them
again into a new object) and an incomplete archive row naming the object, which the next rotation
removes (``archives_abandoned_sweep``). Only complete archives are ever read.
An entry is therefore always either in the database or in exactly one complete archive.
"""

from __future__ import annotations

import gzip
import json
import logging
import secrets
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Iterator

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from accounts.models import Namespace
from common.ssrf import check_url, outbound_request
from repositories.models import AuditLog, AuditLogArchive, LogExport
from repositories.selectors_logs import LogScope, LogWindow, format_date, log_view
from repositories.services.audit import audit_buffer_catch_up
from storagebackends.registry import get_location, preferred_location

logger = logging.getLogger("moorage.logs")

ARCHIVE_PREFIX = "logs/archive"
EXPORT_PREFIX = "logs/exports"
_DOWNLOAD_SALT = "moorage.logs.export_download"
_DELETE_CHUNK = 500
_FIELDS = (
    "id", "kind", "performer_user_id", "performer_robot_id", "performer_name", "namespace_name",
    "repository_id", "repository_name", "ip", "user_agent", "metadata", "created",
)


def _config() -> dict[str, Any]:
    return settings.MOORAGE["logs"]


# -- entries <-> archived records -------------------------------------------------------------


def record_entry(record: dict[str, Any]) -> AuditLog:
    """An unsaved AuditLog rebuilt from an archive line (for ``log_view``)."""
    values = {name: record.get(name) for name in _FIELDS}
    values["created"] = datetime.fromisoformat(record["created"])
    values["metadata"] = record.get("metadata") or {}
    values["performer_name"] = values["performer_name"] or ""
    values["namespace_name"] = values["namespace_name"] or ""
    values["repository_name"] = values["repository_name"] or ""
    values["user_agent"] = values["user_agent"] or ""
    return AuditLog(**values)


def _gzip_lines(lines: Iterable[bytes]) -> Iterator[bytes]:
    """Gzip ``lines`` as they come (a gzip member, readable by ``gzip``/``zcat``)."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    pending: list[bytes] = []
    size = 0
    for line in lines:
        pending.append(line)
        size += len(line)
        if size >= 256 * 1024:
            out = compressor.compress(b"".join(pending))
            pending, size = [], 0
            if out:
                yield out
    out = compressor.compress(b"".join(pending)) + compressor.flush()
    if out:
        yield out


# -- rotation --------------------------------------------------------------------------------


@dataclass
class RotationResult:
    cutoff: datetime
    archived: int = 0
    deleted: int = 0
    archives: list[str] = field(default_factory=list)
    skipped_batches: int = 0
    abandoned_removed: int = 0
    exports_removed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "cutoff": self.cutoff.isoformat(), "archived": self.archived, "deleted": self.deleted, "archives": self.archives,
            "skipped_batches": self.skipped_batches, "abandoned_removed": self.abandoned_removed, "exports_removed": self.exports_removed,
        }


def archive_path(*, start: datetime, first_id: int, last_id: int) -> str:
    """``logs/archive/YYYY/MM/DD/auditlog-<first>-<last>-<nonce>.jsonl.gz``, dated by the oldest
    entry; the nonce keeps two attempts at the same batch from ever writing the same object."""
    return f"{ARCHIVE_PREFIX}/{start:%Y/%m/%d}/auditlog-{first_id:012d}-{last_id:012d}-{secrets.token_hex(4)}.jsonl.gz"


def _archive_commit(*, archive: AuditLogArchive, ids: list[int]) -> None:
    """Complete ``archive`` and delete exactly ``ids``, all or nothing."""
    with transaction.atomic():
        deleted = 0
        for offset in range(0, len(ids), _DELETE_CHUNK):
            deleted += AuditLog.objects.filter(pk__in=ids[offset : offset + _DELETE_CHUNK]).delete()[0]
        if deleted != len(ids):
            raise _LostRace(f"{len(ids) - deleted} of {len(ids)} entries were already removed by another rotation")
        completed = AuditLogArchive.objects.filter(pk=archive.pk, complete=False).update(
            first_id=archive.first_id, last_id=archive.last_id, start=archive.start, end=archive.end, count=archive.count, size=archive.size,
            complete=True,
        )
        if not completed:
            raise _LostRace("the archive row was swept as abandoned")
        archive.complete = True


class _LostRace(Exception):
    pass


def _abandon(archive: AuditLogArchive) -> None:
    """Remove the file and the row of an archive that will not be completed (best effort: the
    sweep of abandoned archives retries)."""
    try:
        get_location(archive.location).delete(archive.path)
        AuditLogArchive.objects.filter(pk=archive.pk, complete=False).delete()
    except Exception:  # noqa: BLE001
        logger.exception("log rotation: could not remove the abandoned archive %s", archive.path)


#: an incomplete archive older than this belongs to a rotation that died (a batch takes seconds)
ABANDONED_AFTER = timedelta(hours=1)


def archives_abandoned_sweep() -> int:
    """Remove the files and rows of archives whose rotation died before completing them."""
    removed = 0
    for archive in AuditLogArchive.objects.filter(complete=False, created__lt=timezone.now() - ABANDONED_AFTER):
        logger.warning("log rotation: removing %s, left by a rotation that died", archive.path)
        _abandon(archive)
        removed += 1
    return removed


def _archive_batch(*, cutoff: datetime, batch_size: int) -> tuple[AuditLogArchive | None, int]:
    """Archive and remove one batch; returns (the archive or None when lost to a concurrent run,
    entries in the batch). 0 entries: nothing older than the cutoff is left."""
    head = list(AuditLog.objects.filter(created__lt=cutoff).order_by("id").values_list("id", flat=True)[:batch_size])
    if not head:
        return None, 0
    first_id, last_id = head[0], head[-1]
    query = AuditLog.objects.filter(created__lt=cutoff, pk__gte=first_id, pk__lte=last_id).order_by("id")
    written: list[int] = []
    bounds: dict[str, datetime] = {}

    def lines() -> Iterator[bytes]:
        dumps = json.JSONEncoder(separators=(",", ":"), default=str).encode
        for record in query.values(*_FIELDS).iterator(chunk_size=2000):  # plain rows: no model instances
            created = record["created"]
            written.append(record["id"])
            bounds["start"] = min(bounds.get("start", created), created)
            bounds["end"] = max(bounds.get("end", created), created)
            record["created"] = created.isoformat()
            yield dumps(record).encode() + b"\n"

    location = preferred_location()
    first = AuditLog.objects.filter(pk=first_id).values_list("created", flat=True).first() or cutoff
    # the intent first (committed on its own): a rotation that dies from here on leaves a row
    # naming the file, which archives_abandoned_sweep removes
    archive = AuditLogArchive.objects.create(
        path=archive_path(start=first, first_id=first_id, last_id=last_id), location=location.name,
        first_id=first_id, last_id=last_id, start=first, end=first, count=0, size=0, complete=False,
    )
    try:
        archive.size = location.write_atomic(archive.path, _gzip_lines(lines()))
        if not written:  # everything went away between the two queries
            _abandon(archive)
            return None, 0
        archive.first_id, archive.last_id, archive.count = min(written), max(written), len(written)
        archive.start, archive.end = bounds["start"], bounds["end"]
        _archive_commit(archive=archive, ids=written)
    except _LostRace as exc:
        logger.warning("log rotation: batch %s..%s skipped: %s", first_id, last_id, exc)
        _abandon(archive)
        return None, len(written)
    except BaseException:
        _abandon(archive)
        raise
    logger.info("log rotation: archived %d entries (%s..%s) to %s", archive.count, archive.start, archive.end, archive.path)
    return archive, len(written)


def logs_rotate(
    *, now: datetime | None = None, retention_days: int | None = None, archive: bool | None = None, batch_size: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> RotationResult:
    """Move audit-log entries older than ``retention_days`` out of the database: archived to
    storage first when ``archive`` (the default), batch by batch. Re-running is a no-op once
    nothing is older than the cutoff."""
    config = _config()
    now = now or timezone.now()
    retention_days = retention_days if retention_days is not None else config["retention_days"]
    archive = config["archive"] if archive is None else archive
    batch_size = batch_size or config["archive_batch_size"]
    result = RotationResult(cutoff=now - timedelta(days=retention_days))
    result.abandoned_removed = archives_abandoned_sweep()
    result.exports_removed = log_exports_expire(now=now)
    while True:
        if not archive:
            ids = list(AuditLog.objects.filter(created__lt=result.cutoff).order_by("id").values_list("id", flat=True)[:batch_size])
            if not ids:
                break
            deleted, _ = AuditLog.objects.filter(pk__in=ids).delete()
            result.deleted += deleted
            continue
        done, count = _archive_batch(cutoff=result.cutoff, batch_size=batch_size)
        if count == 0:
            break
        if done is None:
            result.skipped_batches += 1
            if result.skipped_batches > 100:  # another rotation is running: let it finish
                break
            continue
        result.archived += done.count
        result.deleted += done.count
        result.archives.append(done.path)
        if progress:
            progress(f"archived {done.count} entries to {done.path}")
    return result


# -- reading entries of a window: archives, then the live table --------------------------------


def _scope_matches(scope: LogScope, record: dict[str, Any]) -> bool:
    """``LogScope.filter`` for an archived record."""
    if scope.everything:
        return True
    if scope.repository_id is not None:
        return record.get("repository_id") == scope.repository_id
    namespace = record.get("namespace_name") or ""
    if scope.user_id is not None:
        return namespace == (scope.namespace_name or "") or (namespace == "" and record.get("performer_user_id") == scope.user_id)
    if scope.namespace_name is not None:
        return namespace == scope.namespace_name
    return False


def archives_in_window(window: LogWindow):
    return AuditLogArchive.objects.filter(complete=True, start__lt=window.end, end__gte=window.start).order_by("start", "first_id")


def archive_records(archive: AuditLogArchive) -> Iterator[dict[str, Any]]:
    """The records of one archive, streamed from storage."""
    with get_location(archive.location).open(archive.path) as raw, gzip.GzipFile(fileobj=raw) as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def window_entries(
    *, scope: LogScope, window: LogWindow, progress: Callable[[str], None] | None = None
) -> Iterator[AuditLog]:
    """Every entry of ``scope`` in ``window``, oldest first: archived ones (read back from
    storage), then those still in the database. Streams; memory does not grow with the range."""
    archives = list(archives_in_window(window).values_list("pk", flat=True))
    for number, archive_id in enumerate(archives, start=1):
        archive = AuditLogArchive.objects.get(pk=archive_id)
        if progress:
            progress(f"reading archive {number}/{len(archives)}: {archive.path} ({archive.count} entries)")
        for record in archive_records(archive):
            entry = record_entry(record)
            if window.start <= entry.created < window.end and _scope_matches(scope, record):
                yield entry
    audit_buffer_catch_up()  # pulls wait in Redis for a few seconds (services/audit.py)
    live = AuditLog.objects.filter(scope.filter(), created__gte=window.start, created__lt=window.end).order_by("created", "id")
    if progress:
        progress("reading entries still in the database")
    yield from live.iterator(chunk_size=1000)


class _NamespaceKinds(dict):
    """namespace name -> Quay's kind (``org``/``user``), looked up once per name."""

    def __missing__(self, name: str) -> str | None:
        kind = Namespace.objects.filter(name=name).values_list("kind", flat=True).first()
        value = {Namespace.Kind.ORGANIZATION: "org", Namespace.Kind.USER: "user"}.get(kind, kind)
        self[name] = value
        return value


def export_views(
    *, scope: LogScope, window: LogWindow, progress: Callable[[str], None] | None = None
) -> Iterator[dict[str, Any]]:
    """``window_entries`` in Quay's log shape (the one of ``/logs``)."""
    kinds = _NamespaceKinds()
    for entry in window_entries(scope=scope, window=window, progress=progress):
        if entry.namespace_name:
            kinds[entry.namespace_name]  # noqa: B018 - fill the lookup for log_view
        yield log_view(entry, kinds)


def export_document(
    *, export_id: str, scope_details: dict[str, Any], scope: LogScope, window: LogWindow, counter: list[int] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Iterator[bytes]:
    """The export as one JSON document, streamed: ``{"export_id", "details", "logs": [...],
    "terminated": true}`` (Quay's exported-logs layout). ``counter[0]`` counts the entries."""
    counter = counter if counter is not None else [0]
    details = {"start_time": format_date(window.start), "end_time": format_date(window.end), **scope_details}
    yield (json.dumps({"export_id": export_id, "details": details})[:-1] + ', "logs": [\n').encode()
    for view in export_views(scope=scope, window=window, progress=progress):
        yield (b",\n" if counter[0] else b"") + json.dumps(view, default=str).encode()
        counter[0] += 1
        if progress and counter[0] % 1000 == 0:
            progress(f"{counter[0]} entries written")
    yield b'\n], "terminated": true}\n'


# -- exports on request ----------------------------------------------------------------------


def export_scope(export: LogExport) -> LogScope:
    if export.everything:
        return LogScope(everything=True)
    if export.user_id_scope is not None:
        return LogScope(namespace_name=export.namespace_name, user_id=export.user_id_scope)
    if export.repository_name:
        return LogScope(repository_id=export.repository_id if export.repository_id is not None else -1)
    return LogScope(namespace_name=export.namespace_name)


def log_export_request(
    *, scope: LogScope, window: LogWindow, requested_by_id: int | None, requested_by_name: str, repository_name: str = "",
    callback_url: str = "", callback_email: str = "", download_url: Callable[[str], str] | None = None,
) -> LogExport:
    """Record an export and queue ``registry.logs.export`` for it after commit.

    Raises:
        OutboundURLError: ``callback_url`` is refused by the outbound (SSRF) policy.
    """
    if callback_url:
        check_url(callback_url)
    from repositories.signals import log_export_requested

    export = LogExport(
        requested_by_id=requested_by_id, requested_by_name=requested_by_name[:255],
        repository_id=scope.repository_id, repository_name=repository_name,
        namespace_name=scope.namespace_name or "", user_id_scope=scope.user_id, everything=scope.everything,
        start=window.start, end=window.end, callback_url=callback_url, callback_email=callback_email,
    )
    if download_url is not None:
        export.download_url = download_url(str(export.export_id))
    export.save()
    transaction.on_commit(lambda: log_export_requested.send(sender=None, export_id=str(export.export_id)))
    return export


def export_download_token(export: LogExport) -> str:
    return signing.dumps(str(export.export_id), salt=_DOWNLOAD_SALT, compress=True)


def export_download_token_valid(export: LogExport, token: str) -> bool:
    """Whether ``token`` is a download link of this export still within ``export_link_hours``."""
    try:
        value = signing.loads(token, salt=_DOWNLOAD_SALT, max_age=timedelta(hours=_config()["export_link_hours"]))
    except signing.BadSignature:
        return False
    return value == str(export.export_id)


def export_link(export: LogExport) -> str:
    if not export.download_url:
        return ""
    return f"{export.download_url}?token={export_download_token(export)}"


def _deliver(export: LogExport) -> str:
    """POST the outcome to the callback URL and/or e-mail it; returns what happened (never raises)."""
    notes = []
    link = export_link(export)
    if export.callback_url:
        body = {"export_id": str(export.export_id), "status": "success" if export.state == LogExport.State.DONE else "failed", "exported_data_url": link}
        if export.error:
            body["error"] = export.error
        try:
            # the SSRF policy again at delivery (DNS may have changed since the request), pinned to the checked address
            response = outbound_request("POST", export.callback_url, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
            notes.append(f"callback {response.status_code}")
        except Exception as exc:  # noqa: BLE001 - a refused URL or a receiver's failure must not fail the export
            notes.append(f"callback failed: {exc}"[:500])
    if export.callback_email:
        if export.state == LogExport.State.DONE:
            text = f"The audit-log export {export.export_id} you asked for is ready ({export.count} entries).\n\nDownload: {link}\n"
        else:
            text = f"The audit-log export {export.export_id} you asked for failed: {export.error}\n"
        try:
            send_mail(f"Audit-log export {export.export_id}", text, None, [export.callback_email])
            notes.append("e-mail sent")
        except Exception as exc:  # noqa: BLE001
            notes.append(f"e-mail failed: {exc}"[:500])
    return "; ".join(notes)


def export_path(export: LogExport) -> str:
    return f"{EXPORT_PREFIX}/{export.created:%Y/%m/%d}/{export.export_id}.json"


def log_export_run(*, export_id: str) -> LogExport | None:
    """Write the export to storage and deliver the link. Idempotent: a finished export is left
    alone; a running one (a worker that died) is written again to the same path."""
    export = LogExport.objects.filter(export_id=export_id).first()
    if export is None or export.state in (LogExport.State.DONE, LogExport.State.FAILED):
        return export
    LogExport.objects.filter(pk=export.pk).update(state=LogExport.State.RUNNING)
    window = LogWindow(start=export.start, end=export.end)
    details: dict[str, Any] = {}
    if export.repository_name:
        details["repository"] = export.repository_name
    if export.namespace_name:
        details["namespace"] = export.namespace_name
    counter = [0]
    location = preferred_location()
    path = export_path(export)
    try:
        size = location.write_atomic(
            path, export_document(export_id=str(export.export_id), scope_details=details, scope=export_scope(export), window=window, counter=counter)
        )
    except Exception as exc:  # noqa: BLE001 - recorded and delivered as a failure
        logger.exception("log export %s failed", export.export_id)
        export.state, export.error = LogExport.State.FAILED, str(exc)[:2000]
    else:
        export.state, export.path, export.location, export.size, export.count = LogExport.State.DONE, path, location.name, size, counter[0]
    export.finished = timezone.now()
    export.save()
    export.delivery = _deliver(export)
    LogExport.objects.filter(pk=export.pk).update(delivery=export.delivery)
    return export


def export_open(export: LogExport):
    """The stored export, opened for reading (a binary file object)."""
    return get_location(export.location).open(export.path)


def log_exports_expire(*, now: datetime | None = None) -> int:
    """Remove exports older than ``logs.export_retention_days``: their file, then their record."""
    cutoff = (now or timezone.now()) - timedelta(days=_config()["export_retention_days"])
    removed = 0
    for export in LogExport.objects.filter(created__lt=cutoff):
        if export.path and export.location:
            try:
                get_location(export.location).delete(export.path)
            except Exception:  # noqa: BLE001 - kept for the next run
                logger.exception("could not remove the export %s", export.path)
                continue
        export.delete()
        removed += 1
    return removed
