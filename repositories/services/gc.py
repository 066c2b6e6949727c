"""Online garbage collection: no read-only mode, no stop-the-world.

What goes, in this order (each pass makes the next one's candidates):

1. tag history rows whose lifetime ended (or whose expiry passed) longer ago than the
   namespace's time-machine window (``Namespace.tag_expiration_s``);
2. manifests older than the grace period with no tag row left, no parent index and no subject
   still present (a referrer lives as long as its subject; it never keeps the subject alive);
   repeated until nothing more goes, so an index's children and a subject's referrers follow it;
3. expired upload links (``UploadedBlob``) and upload sessions idle longer than the stale age;
4. blobs older than the grace period that no manifest and no upload link references, with their
   bytes in every storage location.

Race safety: every deletion re-checks its item under a row lock (``SELECT ... FOR UPDATE``)
inside its own short transaction. The push path takes the same locks: inserting a
``ManifestBlob``/``ManifestChild``/``UploadedBlob`` row takes a key-share lock on the referenced
row (a foreign key), and storing or re-using a blob locks its ``Blob`` row
(``services.uploads``). So a push and the collector serialize on the rows they share: either the
push lands first and the collector sees the new reference, or the collector lands first and the
push finds the row gone and stores the blob again (uploads) or fails cleanly with
MANIFEST_BLOB_UNKNOWN (manifest PUT). Bytes are deleted while the blob row is locked, before it
is removed, so a re-upload of the same digest never has its fresh bytes deleted. On SQLite every
write transaction is ``BEGIN IMMEDIATE``: the same serialization, database-wide.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from accounts.models import Namespace
from repositories.models import (
    Blob,
    BlobPlacement,
    BlobUpload,
    GcRun,
    Manifest,
    ManifestBlob,
    ManifestChild,
    ManifestPullStatistic,
    Repository,
    Tag,
    UploadedBlob,
)
from repositories.services.audit import audit_log
from repositories.services.uploads import blob_upload_cancel, stale_uploads, stale_uploads_remove
from storagebackends.base import StorageError
from storagebackends.paths import blob_path
from storagebackends.registry import get_location

logger = logging.getLogger(__name__)

BATCH = 500

#: progress callback: (phase, examined so far, deleted so far)
Progress = Callable[[str, int, int], None]


@dataclass
class GcReport:
    dry_run: bool = False
    scope: str = ""
    #: ``--now``: no grace period and no time-machine window (only for an idle registry)
    immediate: bool = False
    tags_examined: int = 0
    tags_deleted: int = 0
    manifests_examined: int = 0
    manifests_deleted: int = 0
    blobs_examined: int = 0
    blobs_deleted: int = 0
    uploads_deleted: int = 0
    bytes_reclaimed: int = 0
    errors: list[str] = field(default_factory=list)
    #: what a dry run would delete (or a real run deleted), for the command's listing
    deleted_manifests: list[str] = field(default_factory=list)
    deleted_blobs: list[str] = field(default_factory=list)

    COUNTERS = (
        "tags_examined", "tags_deleted", "manifests_examined", "manifests_deleted", "blobs_examined",
        "blobs_deleted", "uploads_deleted", "bytes_reclaimed",
    )

    def as_dict(self) -> dict:
        return {
            "dry_run": self.dry_run, "scope": self.scope, **{name: getattr(self, name) for name in self.COUNTERS},
            "errors": self.errors,
        }


def gc_settings() -> dict:
    return settings.MOORAGE["gc"]


def _grace(report: GcReport | None = None) -> timedelta:
    if report is not None and report.immediate:
        return timedelta(0)
    return timedelta(seconds=gc_settings()["blob_grace_s"])


# -- 1. tags ------------------------------------------------------------------------------------
def _tags_past_window(report: GcReport, now: datetime) -> Q:
    """Tag rows that ended, or expired, before their namespace's time-machine window began.

    One condition per distinct window length (a handful: most namespaces keep the default), so
    the comparison stays a plain, indexable one on every database.
    """
    windows = Namespace.objects.order_by().values_list("tag_expiration_s", flat=True).distinct()
    condition = Q(pk__in=[])
    for window_s in windows:
        window_start = now - timedelta(seconds=0 if report.immediate else window_s)
        condition |= Q(repository__namespace__tag_expiration_s=window_s) & (
            Q(lifetime_end__isnull=False, lifetime_end__lt=window_start)
            | Q(lifetime_end__isnull=True, immutable=False, expires_at__isnull=False, expires_at__lt=window_start)
        )
    return condition


def _collect_tags(report: GcReport, now: datetime, repositories: Q, progress: Progress | None) -> None:
    gone = repositories & _tags_past_window(report, now)
    report.tags_examined += Tag.objects.filter(repositories).count()
    while True:
        ids = list(Tag.objects.filter(gone).values_list("id", flat=True)[:BATCH])
        if not ids:
            break
        with transaction.atomic():
            report.tags_deleted += Tag.objects.filter(gone, id__in=ids).delete()[0]
        if progress:
            progress("tags", report.tags_examined, report.tags_deleted)


# -- 2. manifests -------------------------------------------------------------------------------
def _collectable_manifests(now: datetime, repositories: Q, grace: timedelta) -> Q:
    """Manifests nothing keeps alive (evaluated again under a lock before each deletion)."""
    has_tag = Exists(Tag.objects.filter(manifest=OuterRef("pk")))
    has_parent = Exists(ManifestChild.objects.filter(child=OuterRef("pk")))
    subject_present = Exists(
        Manifest.objects.filter(repository=OuterRef("repository"), digest=OuterRef("subject_digest"))
    )
    referrer_alive = ~Q(subject_digest="") & subject_present
    return (
        repositories
        & Q(created__lt=now - grace)
        & ~has_tag
        & ~has_parent
        & ~referrer_alive
    )


def _manifest_delete_if_collectable(manifest_id: int, now: datetime, report: GcReport) -> bool:
    with transaction.atomic():
        manifest = Manifest.objects.select_for_update().filter(pk=manifest_id).first()
        if manifest is None:
            return False
        # Re-check under the lock: a push may have tagged it or listed it in an index meanwhile.
        if not Manifest.objects.filter(_collectable_manifests(now, Q(), _grace(report)), pk=manifest_id).exists():
            return False
        digest, repository_id = manifest.digest, manifest.repository_id
        ManifestChild.objects.filter(manifest=manifest).delete()
        manifest.delete()  # labels and blob links cascade
        ManifestPullStatistic.objects.filter(repository_id=repository_id, manifest_digest=digest).delete()
    report.deleted_manifests.append(f"{repository_id}:{digest}")
    return True


def _collect_manifests(report: GcReport, now: datetime, repositories: Q, progress: Progress | None) -> None:
    report.manifests_examined += Manifest.objects.filter(repositories).count()
    seen: set[int] = set()
    while True:  # parents first, then the children and referrers they were keeping
        candidates = list(
            Manifest.objects.filter(_collectable_manifests(now, repositories, _grace(report)))
            .exclude(pk__in=seen)
            .order_by("id")
            .values_list("id", "repository_id", "digest")[:BATCH]
        )
        if not candidates:
            return
        for manifest_id, repository_id, digest in candidates:
            seen.add(manifest_id)
            try:
                if _manifest_delete_if_collectable(manifest_id, now, report):
                    report.manifests_deleted += 1
            except DatabaseError as exc:  # a lock timeout or a serialization failure: next run
                report.errors.append(f"manifest {digest}: {exc}")
        if progress:
            progress("manifests", report.manifests_examined, report.manifests_deleted)


# -- 3. upload links and sessions ---------------------------------------------------------------
def _collect_uploads(report: GcReport, now: datetime, repository: Repository | None) -> None:
    links = UploadedBlob.objects.all() if report.immediate else UploadedBlob.objects.filter(expires_at__lte=now)
    if repository is not None:
        links = links.filter(repository=repository)
    links.delete()
    if report.dry_run:  # the rows would come back with the rollback, but not the partial data
        stale = stale_uploads(now=now)
        report.uploads_deleted += (stale.filter(repository=repository) if repository else stale).count()
        return
    report.uploads_deleted += stale_uploads_remove(repository=repository)


# -- 4. blobs -----------------------------------------------------------------------------------
def _unreferenced_blobs(now: datetime, grace: timedelta) -> Q:
    return (
        Q(created__lt=now - grace)
        & ~Exists(ManifestBlob.objects.filter(blob=OuterRef("pk")))
        & ~Exists(UploadedBlob.objects.filter(blob=OuterRef("pk")))
    )


def _blob_delete_if_unreferenced(blob_id: int, now: datetime, report: GcReport) -> bool:
    with transaction.atomic():
        blob = Blob.objects.select_for_update().filter(pk=blob_id).first()
        if blob is None or not Blob.objects.filter(_unreferenced_blobs(now, _grace(report)), pk=blob_id).exists():
            return False
        failed = False
        for placement in list(BlobPlacement.objects.filter(blob=blob)):
            try:
                if not report.dry_run:  # the rows come back with the dry run's rollback; bytes would not
                    get_location(placement.location).delete(blob_path(blob.digest))
            except (StorageError, KeyError) as exc:  # KeyError: a location no longer configured
                failed = True
                report.errors.append(f"blob {blob.digest} in {placement.location}: {exc!r}")
                continue
            placement.delete()
        if failed:
            return False  # the row stays with the placements not yet deleted; the next run retries
        blob.delete()
    report.bytes_reclaimed += blob.size
    report.deleted_blobs.append(blob.digest)
    return True


def _collect_blobs(report: GcReport, now: datetime, progress: Progress | None) -> None:
    last_id = 0
    while True:
        batch = list(
            Blob.objects.filter(id__gt=last_id).order_by("id").values_list("id", "digest", "size")[:BATCH]
        )
        if not batch:
            return
        last_id = batch[-1][0]
        report.blobs_examined += len(batch)
        candidates = set(
            Blob.objects.filter(_unreferenced_blobs(now, _grace(report)), id__in=[b[0] for b in batch]).values_list("id", flat=True)
        )
        for blob_id, digest, size in batch:
            if blob_id not in candidates:
                continue
            try:
                if _blob_delete_if_unreferenced(blob_id, now, report):
                    report.blobs_deleted += 1
            except DatabaseError as exc:
                report.errors.append(f"blob {digest}: {exc}")
        if progress:
            progress("blobs", report.blobs_examined, report.blobs_deleted)


# -- the run ------------------------------------------------------------------------------------
def gc_run(
    *,
    repository: Repository | None = None,
    dry_run: bool = False,
    immediate: bool = False,
    now: datetime | None = None,
    trigger: str = GcRun.Trigger.PERIODIC,
    progress: Progress | None = None,
) -> GcReport:
    """One garbage-collection pass over the registry (or one repository: its tags, manifests and
    upload links; blobs are global, so a scoped run leaves them to the registry-wide run).

    ``immediate`` drops the grace period and the time-machine window: everything not referenced
    right now goes (emptying a registry nobody pushes to; unsafe while pushes run).
    Records a ``GcRun`` (not for dry runs) and an audit entry when anything was deleted.
    """
    now = now or timezone.now()
    report = GcReport(dry_run=dry_run, immediate=immediate, scope=repository.full_name if repository else "")
    run = None
    if not dry_run:
        run = GcRun.objects.create(started=timezone.now(), trigger=trigger, scope=report.scope)
    scope = Q(repository=repository) if repository is not None else Q()
    try:
        if dry_run:
            # The real pass (so its cascade is exact) in one transaction that is rolled back,
            # touching no bytes in storage. It holds its row locks (on SQLite: the database's
            # write lock) until it ends, so pushes wait for a dry run.
            with transaction.atomic():
                _collect(report, now, scope, repository, progress)
                transaction.set_rollback(True)
            return report
        _collect(report, now, scope, repository, progress)
        namespaces_touched = _namespaces_of(report)
    except BaseException as exc:
        if run is not None:
            _finish(run, report, GcRun.Status.FAILED, extra_error=repr(exc))
        raise
    if run is not None:
        _finish(run, report, GcRun.Status.SUCCEEDED)
        if report.manifests_deleted or report.blobs_deleted or report.tags_deleted:
            audit_log(kind="gc_run", principal=None, repository=repository, metadata=report.as_dict())
        for namespace_id in namespaces_touched:
            usage_changed(namespace_id)
    return report


def _collect(report: GcReport, now: datetime, scope: Q, repository: Repository | None, progress: Progress | None) -> None:
    _collect_tags(report, now, scope, progress)
    _collect_manifests(report, now, scope, progress)
    _collect_uploads(report, now, repository)
    if repository is None:
        _collect_blobs(report, now, progress)


def _namespaces_of(report: GcReport) -> set[int]:
    repository_ids = {int(entry.split(":", 1)[0]) for entry in report.deleted_manifests}
    return set(Repository.all_objects.filter(id__in=repository_ids).values_list("namespace_id", flat=True))


def usage_changed(namespace_id: int) -> None:
    """Storage use of the namespace went down: let quotas recompute it (when quotas exist)."""
    try:
        from repositories.services.quotas import namespace_usage_recompute
    except ImportError:  # pragma: no cover - quotas arrive with the same issue
        return
    namespace_usage_recompute(namespace_id=namespace_id)


def _finish(run: GcRun, report: GcReport, status: str, extra_error: str = "") -> None:
    for name in GcReport.COUNTERS:
        setattr(run, name, getattr(report, name))
    run.errors = [*report.errors, *([extra_error] if extra_error else [])][:100]
    run.status = status
    run.finished = timezone.now()
    run.save()


# -- repository purge ---------------------------------------------------------------------------
def repository_purge(*, repository_id: int) -> bool:
    """Remove every row of a repository marked deleted (``Repository.deleted_at``, moved to the
    graveyard namespace by ``services.repositories.repository_delete``): tags with
    their history, manifests, labels, links, upload sessions with their data, permissions, stars.
    Blob bytes go with the next registry-wide run once no other repository uses them.
    Idempotent; returns False when there was nothing to purge."""
    repository = Repository.all_objects.filter(pk=repository_id, deleted_at__isnull=False).first()
    if repository is None:
        return False
    for upload in list(BlobUpload.objects.filter(repository=repository)):
        blob_upload_cancel(upload=upload)
    with transaction.atomic():
        locked = Repository.all_objects.select_for_update().filter(pk=repository_id, deleted_at__isnull=False).first()
        if locked is None:
            return False
        # Tags and child links protect manifests; remove them first, then the manifests.
        Tag.objects.filter(repository=locked).delete()
        ManifestChild.objects.filter(repository=locked).delete()
        ManifestBlob.objects.filter(repository=locked).delete()
        Manifest.objects.filter(repository=locked).delete()
        locked.delete()
    return True


def repositories_pending_purge() -> list[int]:
    return list(Repository.all_objects.filter(deleted_at__isnull=False).values_list("id", flat=True))
