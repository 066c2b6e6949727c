"""Storage operations across locations: replication, verification and repair, upload orphans.

A blob's bytes are copied by streaming them from a location that holds it into the target's
``write_atomic`` while hashing; the digest and size are checked before the last chunk is handed
over, so a copy that does not match is never made visible and never recorded. A placement is
recorded under the blob's row lock (the lock the garbage collector takes before it deletes a blob),
so a blob collected during a copy gets no placement and its copy is removed.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import BinaryIO, Callable, Iterator

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from common.errors import NotFoundError
from repositories.models import Blob, BlobPlacement, BlobUpload
from repositories.selectors_storage import (
    blob_holding_locations,
    blobs_missing_count,
    blobs_missing_from,
    blobs_with_placements,
    configured_locations,
    manifest_blobs,
    placements_count,
)
from storagebackends.base import StorageBackend, StorageError
from storagebackends.paths import blob_path, upload_path
from storagebackends.registry import get_location

logger = logging.getLogger(__name__)


class CopyMismatch(Exception):
    """The bytes read from a source do not have the blob's digest or size."""


def _chunk_size() -> int:
    return settings.MOORAGE_UPLOADS["chunk_bytes"]


def location_require(name: str) -> str:
    """``name`` if it is a configured location; NotFoundError otherwise."""
    if name not in settings.MOORAGE_STORAGE_LOCATIONS:
        raise NotFoundError(
            f"no storage location named {name!r}", detail={"configured": sorted(settings.MOORAGE_STORAGE_LOCATIONS)}
        )
    return name


# -- streaming with verification -----------------------------------------------------------------
def _verified(handle: BinaryIO, blob: Blob, progress: Callable[[int], None] | None = None) -> Iterator[bytes]:
    """The bytes of ``handle``; raises CopyMismatch before the stream ends (so ``write_atomic``
    discards what it wrote) when they are not ``blob``'s bytes."""
    algorithm, _, expected = blob.digest.partition(":")
    hasher = hashlib.new(algorithm)
    size = 0
    chunk_size = _chunk_size()
    try:
        while True:
            chunk = handle.read(chunk_size)
            if not chunk:
                break
            size += len(chunk)
            if size > blob.size:
                raise CopyMismatch(f"more than the recorded {blob.size} bytes")
            hasher.update(chunk)
            if progress:
                progress(len(chunk))
            yield chunk
    finally:
        handle.close()
    if size != blob.size:
        raise CopyMismatch(f"{size} bytes instead of the recorded {blob.size}")
    if hasher.hexdigest() != expected:
        raise CopyMismatch(f"content has digest {algorithm}:{hasher.hexdigest()}")


def _blob_copy(blob: Blob, target: StorageBackend, sources: list[str]) -> str:
    """Copy ``blob`` into ``target`` from the first of ``sources`` that yields its exact bytes.

    Returns the source's name. Raises StorageError naming every source's failure.
    """
    path = blob_path(blob.digest)
    failures = []
    for source_name in sources:
        if source_name == target.name:
            continue
        try:
            source = get_location(source_name)
            handle = source.open(path)
        except (StorageError, KeyError) as exc:
            failures.append(f"{source_name}: {exc}")
            continue
        try:
            target.write_atomic(path, _verified(handle, blob))
        except CopyMismatch as exc:
            logger.warning("blob %s in %s is corrupt (%s); not copied to %s", blob.digest, source_name, exc, target.name)
            failures.append(f"{source_name}: corrupt copy ({exc})")
            continue
        except Exception as exc:  # noqa: BLE001 - any source read or target write error: try the next source
            failures.append(f"{source_name} -> {target.name}: {exc}")
            continue
        return source_name
    raise StorageError("; ".join(failures) or "no location holds the blob")


def _placement_record(blob: Blob, location: str) -> bool:
    """Record that ``location`` holds ``blob`` (copied and verified) under the blob's row lock.

    When the garbage collector removed the blob meanwhile, the copy is deleted instead and False
    is returned.
    """
    with transaction.atomic():
        locked = Blob.objects.select_for_update().filter(digest=blob.digest).first()
        if locked is not None:
            BlobPlacement.objects.get_or_create(blob=locked, location=location)
            return True
    try:
        get_location(location).delete(blob_path(blob.digest))
    except StorageError:
        logger.warning("could not remove the copy of collected blob %s from %s", blob.digest, location)
    return False


# -- replication ---------------------------------------------------------------------------------
#: Copies into one location that fail in a row before a sweep gives up on it until its next run.
GIVE_UP_AFTER = 5

@dataclass(frozen=True)
class CopyOutcome:
    """What happened to one blob for one target location."""

    digest: str
    location: str
    status: str  # "copied", "planned" (dry run), "failed", "gone" (collected meanwhile)
    size: int = 0
    source: str = ""
    error: str = ""


@dataclass
class ReplicationReport:
    blobs_examined: int = 0
    copied: int = 0
    planned: int = 0
    bytes_copied: int = 0
    failures: list[CopyOutcome] = field(default_factory=list)
    skipped_locations: list[str] = field(default_factory=list)
    dry_run: bool = False

    def add(self, outcome: CopyOutcome) -> None:
        if outcome.status == "copied":
            self.copied += 1
            self.bytes_copied += outcome.size
        elif outcome.status == "planned":
            self.planned += 1
        elif outcome.status == "failed":
            self.failures.append(outcome)

    def as_dict(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "blobs_examined": self.blobs_examined,
            "copied": self.copied,
            "planned": self.planned,
            "bytes_copied": self.bytes_copied,
            "failed": len(self.failures),
            "failures": [{"digest": f.digest, "location": f.location, "error": f.error} for f in self.failures],
            "skipped_locations": self.skipped_locations,
        }


def blob_replicate(*, blob: Blob, targets: list[str] | None = None, dry_run: bool = False) -> list[CopyOutcome]:
    """Copy ``blob`` to every location of ``targets`` (default: every configured location) that is
    not recorded as holding it, and record each verified copy.

    Never raises for a storage failure: each failed copy is an outcome with status ``failed``.
    """
    holding = blob_holding_locations(blob=blob)
    outcomes = []
    for target_name in configured_locations() if targets is None else targets:
        if target_name in holding:
            continue
        if dry_run:
            outcomes.append(CopyOutcome(blob.digest, target_name, "planned", size=blob.size, source=holding[0] if holding else ""))
            continue
        if not holding:
            outcomes.append(CopyOutcome(blob.digest, target_name, "failed", error="no location is recorded to hold the blob"))
            continue
        try:
            source = _blob_copy(blob, get_location(target_name), holding)
        except StorageError as exc:
            logger.warning("replication of %s to %s failed: %s", blob.digest, target_name, exc)
            outcomes.append(CopyOutcome(blob.digest, target_name, "failed", error=str(exc)))
            continue
        recorded = _placement_record(blob, target_name)
        outcomes.append(CopyOutcome(blob.digest, target_name, "copied" if recorded else "gone", size=blob.size, source=source))
    return outcomes


def manifest_blobs_replicate(*, manifest_id: int) -> ReplicationReport:
    """Copy the blobs of one manifest to every configured location (after a push)."""
    report = ReplicationReport()
    for blob in manifest_blobs(manifest_id=manifest_id):
        report.blobs_examined += 1
        for outcome in blob_replicate(blob=blob):
            report.add(outcome)
    return report


def blobs_replicate_missing(
    *,
    location: str | None = None,
    dry_run: bool = False,
    progress: Callable[[int, int, list[CopyOutcome]], None] | None = None,
) -> ReplicationReport:
    """Copy every blob that lacks a placement in ``location`` (default: in any configured
    location) from a location that holds it. ``progress(done, total, outcomes)`` after each blob.

    Raises NotFoundError for an unknown ``location``.
    """
    targets = [location_require(location)] if location else configured_locations()
    report = ReplicationReport(dry_run=dry_run)
    total = blobs_missing_count(locations=targets)
    failing: dict[str, int] = {}  # target -> copies into it that failed in a row
    for blob in blobs_missing_from(locations=targets):
        report.blobs_examined += 1
        live = [name for name in targets if name not in report.skipped_locations]
        outcomes = blob_replicate(blob=blob, targets=live, dry_run=dry_run) if live else []
        for outcome in outcomes:
            report.add(outcome)
            failing[outcome.location] = failing.get(outcome.location, 0) + 1 if outcome.status == "failed" else 0
            if failing[outcome.location] >= GIVE_UP_AFTER and outcome.location not in report.skipped_locations:
                # A location that refuses every copy is down: stop hammering it until the next run.
                logger.warning("replication into %s failed %d times in a row; skipped for the rest of this run", outcome.location, GIVE_UP_AFTER)
                report.skipped_locations.append(outcome.location)
        if progress:
            progress(report.blobs_examined, max(total, report.blobs_examined), outcomes)
    return report


def replication_sweep() -> ReplicationReport | None:
    """The periodic catch-up: when ``storage.replicate_to_all`` is on, copy every blob missing
    from a location (after an outage or when a location was added). None when it is off."""
    if not settings.MOORAGE["storage"]["replicate_to_all"] or len(settings.MOORAGE_STORAGE_LOCATIONS) < 2:
        return None
    return blobs_replicate_missing()


# -- verification --------------------------------------------------------------------------------
MISSING, SIZE, DIGEST, UNREACHABLE, UNCONFIGURED = "missing", "wrong size", "wrong digest", "unreachable", "unconfigured"
REPAIRED, REMOVED, KEPT = "repaired", "removed", "kept"


@dataclass(frozen=True)
class PlacementProblem:
    digest: str
    location: str
    problem: str  # MISSING, SIZE, DIGEST, UNREACHABLE, UNCONFIGURED
    detail: str = ""
    action: str = ""  # "", REPAIRED, REMOVED (the record; another good copy exists), KEPT (not repairable)
    action_detail: str = ""

    @property
    def resolved(self) -> bool:
        return self.action in (REPAIRED, REMOVED)


@dataclass
class VerifyReport:
    blobs_examined: int = 0
    placements_checked: int = 0
    placements_ok: int = 0
    bytes_read: int = 0
    problems: list[PlacementProblem] = field(default_factory=list)
    repair: bool = False

    @property
    def unresolved(self) -> list[PlacementProblem]:
        return [problem for problem in self.problems if not problem.resolved]

    def as_dict(self) -> dict:
        return {
            "repair": self.repair,
            "blobs_examined": self.blobs_examined,
            "placements_checked": self.placements_checked,
            "placements_ok": self.placements_ok,
            "bytes_read": self.bytes_read,
            "problems": [
                {"digest": p.digest, "location": p.location, "problem": p.problem, "detail": p.detail,
                 "action": p.action, "action_detail": p.action_detail}
                for p in self.problems
            ],
            "repaired": sum(p.action == REPAIRED for p in self.problems),
            "removed": sum(p.action == REMOVED for p in self.problems),
            "unresolved": len(self.unresolved),
        }


def _placement_check(blob: Blob, location: str, report: VerifyReport, quick: bool = False) -> tuple[str, str] | None:
    """None when ``location`` has ``blob``'s exact bytes, else (problem, detail). ``quick``
    checks existence and size only (no read-back)."""
    if location not in settings.MOORAGE_STORAGE_LOCATIONS:
        return UNCONFIGURED, "the location is no longer configured"
    backend = get_location(location)
    path = blob_path(blob.digest)
    try:
        stat = backend.stat(path)
        if stat is None:
            return MISSING, "the object does not exist"
        if stat.size != blob.size:
            return SIZE, f"{stat.size} bytes instead of {blob.size}"
        if quick:
            return None

        def count(n: int) -> None:
            report.bytes_read += n

        for _chunk in _verified(backend.open(path), blob, count):
            pass
    except CopyMismatch as exc:
        return DIGEST, str(exc)
    except StorageError as exc:
        return UNREACHABLE, str(exc)
    return None


def _placement_remove(blob: Blob, location: str, good: list[str]) -> bool:
    """Forget ``location``'s copy of ``blob`` (and delete its bad bytes) while a placement in
    ``good`` still exists, under the blob's row lock."""
    with transaction.atomic():
        locked = Blob.objects.select_for_update().filter(pk=blob.pk).first()
        if locked is None or not BlobPlacement.objects.filter(blob=locked, location__in=good).exists():
            return False
        BlobPlacement.objects.filter(blob=locked, location=location).delete()
    if location in settings.MOORAGE_STORAGE_LOCATIONS:
        try:
            get_location(location).delete(blob_path(blob.digest))
        except StorageError:
            logger.warning("could not delete the bad copy of %s in %s", blob.digest, location)
    return True


def _blob_verify(blob: Blob, locations: list[str], *, repair: bool, report: VerifyReport, quick: bool = False) -> list[PlacementProblem]:
    recorded = [p.location for p in blob.placements.all()]
    order = [name for name in configured_locations() if name in recorded] + [n for n in recorded if n not in configured_locations()]
    checks: dict[str, tuple[str, str] | None] = {}

    def check(name: str) -> tuple[str, str] | None:
        if name not in checks:
            checks[name] = _placement_check(blob, name, report, quick)
            report.placements_checked += name in locations
        return checks[name]

    problems = []
    for name in locations:
        result = check(name)
        if result is None:
            report.placements_ok += 1
            continue
        if not BlobPlacement.objects.filter(blob_id=blob.pk, location=name).exists():
            report.placements_ok += 1  # collected (or its record removed) while we looked: not a problem
            continue
        problem = PlacementProblem(blob.digest, name, *result)
        if repair:
            problem = _placement_repair(blob, problem, order, check)
        problems.append(problem)
    return problems


def _placement_repair(
    blob: Blob, problem: PlacementProblem, order: list[str], check: Callable[[str], tuple[str, str] | None]
) -> PlacementProblem:
    if problem.problem == UNREACHABLE:
        return _with(problem, KEPT, "the location did not answer; nothing changed")
    good = [name for name in order if name != problem.location and check(name) is None]
    if not good:
        return _with(problem, KEPT, "no good copy of this blob exists anywhere: the record is kept and the blob is lost until restored")
    failure = ""
    if problem.problem != UNCONFIGURED:
        try:
            source = _blob_copy(blob, get_location(problem.location), good)
            return _with(problem, REPAIRED, f"copied from {source}")
        except StorageError as exc:
            failure = f"copy failed ({exc}); "
    if _placement_remove(blob, problem.location, good):
        return _with(problem, REMOVED, f"{failure}record removed; good copies remain in {', '.join(good)}")
    return _with(problem, KEPT, f"{failure}the record could not be removed")


def _with(problem: PlacementProblem, action: str, detail: str) -> PlacementProblem:
    return PlacementProblem(problem.digest, problem.location, problem.problem, problem.detail, action, detail)


def placements_verify(
    *,
    location: str | None = None,
    repair: bool = False,
    progress: Callable[[int, int, list[PlacementProblem]], None] | None = None,
) -> VerifyReport:
    """Check every placement (in ``location`` when given): the object exists, has the blob's size
    and, read back in full, its digest.

    With ``repair``, a missing or corrupt copy is copied again from a good location; a copy that
    cannot be repaired has its record removed only when another good copy exists. A blob's last
    record is never removed: it is reported as unresolved. Unreachable locations are only reported.
    ``progress(placements done, total, problems of the blob)`` after each blob.
    Raises NotFoundError for an unknown ``location``.
    """
    if location is not None and location not in settings.MOORAGE_STORAGE_LOCATIONS:
        # A location dropped from the configuration may still have placements to clean up.
        if not BlobPlacement.objects.filter(location=location).exists():
            location_require(location)
    report = VerifyReport(repair=repair)
    total = placements_count(location=location)
    for blob in blobs_with_placements(location=location):
        report.blobs_examined += 1
        names = [location] if location else [p.location for p in blob.placements.all()]
        problems = _blob_verify(blob, names, repair=repair, report=report)
        report.problems.extend(problems)
        if progress:
            progress(report.placements_checked, max(total, report.placements_checked), problems)
    return report


def blob_placements_verify(*, blob: Blob, repair: bool = False, quick: bool = False, report: VerifyReport | None = None) -> list[PlacementProblem]:
    """Check (and with ``repair`` fix, as ``placements_verify`` does) every recorded placement of
    one blob; ``quick`` skips reading the bytes back (existence and size only). Counts go into
    ``report`` when given. Used by ``fsck`` for the blobs live manifests reference."""
    report = report if report is not None else VerifyReport(repair=repair)
    return _blob_verify(blob, [p.location for p in blob.placements.all()], repair=repair, report=report, quick=quick)


# -- upload orphans ------------------------------------------------------------------------------
@dataclass
class OrphanReport:
    removed: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"removed": self.removed, "errors": self.errors}


def upload_orphans_remove(*, older_than: timedelta | None = None) -> OrphanReport:
    """In every location, remove backend-side upload state (upload folders, S3 multipart uploads,
    Azure uncommitted blocks, GCS part objects) untouched for ``older_than`` (default
    ``uploads.stale_after_s``) that belongs to no upload session row. A location that fails is
    reported and the others still run."""
    older_than = older_than if older_than is not None else timedelta(seconds=settings.MOORAGE_UPLOADS["stale_after_s"])
    cutoff = timezone.now() - older_than
    report = OrphanReport()
    for name in configured_locations():
        keep = {upload_path(upload_id) for upload_id in BlobUpload.objects.filter(location=name).values_list("id", flat=True)}
        try:
            report.removed[name] = get_location(name).upload_orphans_remove(older_than=cutoff, keep=keep)
        except StorageError as exc:
            logger.warning("could not remove upload orphans in %s: %s", name, exc)
            report.errors[name] = str(exc)
    return report
