"""The scan pipeline: queue a manifest, index its layers (cached by layer digest), match its
packages against the vulnerability database, store the findings, raise notifications.

States of a :class:`~repositories.models.ManifestScan`: ``queued`` -> ``in_progress`` ->
``scanned`` | ``unsupported`` | ``failed``. A failed scan is retried at ``next_attempt_at``
(exponential backoff, ``security.retry_backoff_s`` doubling up to ``security.max_retry_backoff_s``)
until ``security.max_attempts``; a scan whose worker died is queued again by
:func:`manifest_scan_sweep` after ``security.stale_after_s``. Nothing stays "queued" forever.

At most ``security.indexer_workers`` scans run at once across all processes: a run that finds
that many in progress leaves its manifest queued for the next sweep.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import IO, Any, Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from common.errors import NotFoundError, RegistryError
from repositories.media_types import INDEX_TYPES, parse_manifest
from repositories.models import Blob, LayerIndex, Manifest, ManifestChild, ManifestFinding, ManifestScan, Tag
from repositories.scanning.indexer import INDEXER_VERSION, LayerDamaged, LayerUnsupported, image_packages, index_layer
from repositories.scanning.matcher import match_packages
from repositories.scanning.types import Finding, Package
from repositories.selectors import live_tags
from repositories.selectors_storage import blob_holding_locations
from repositories.services.notification_events import PRIORITY_INDEX, repository_event_data
from repositories.signals import emit_registry_event
from storagebackends.base import ObjectNotFound, StorageError
from storagebackends.paths import blob_path
from storagebackends.registry import get_location

logger = logging.getLogger(__name__)

#: config media types of images; anything else (Helm charts, signatures, SBOMs, WASM ...) is an
#: artifact the indexer does not read
IMAGE_CONFIG_TYPES = frozenset({"application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"})
_FOREIGN_LAYER_MARKERS = ("nondistributable", "rootfs.foreign")
#: vulnerability_found events raised by one scan at most (one per vulnerability id)
MAX_EVENTS_PER_SCAN = 50
Status = ManifestScan.Status


class ScanFailed(RegistryError):
    """A scan could not finish this time (a layer missing from storage, a damaged layer)."""

    code, http_status, default_message = "SCAN_FAILED", 500, "the scan failed"


class _Unsupported(Exception):
    """The manifest is not something the indexer reads."""


@dataclass
class SweepReport:
    requeued_stale: int = 0
    queued_new: int = 0
    queued_outdated: int = 0
    due: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RematchReport:
    manifests: int = 0
    findings: int = 0
    new_findings: int = 0
    events: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _config() -> dict[str, Any]:
    return settings.MOORAGE["security"]


def _backoff(attempts: int) -> timedelta:
    config = _config()
    return timedelta(seconds=min(config["retry_backoff_s"] * 2 ** max(attempts - 1, 0), config["max_retry_backoff_s"]))


# --- queueing -----------------------------------------------------------------------------
def manifest_scan_queue(*, manifest_id: int, force: bool = False) -> ManifestScan | None:
    """Queue the scan of a manifest (and of the manifests an index lists).

    A manifest already queued, in progress, scanned or unsupported by the current indexer is
    left as it is unless ``force`` (a rescan), which starts over with no attempts counted.

    Returns:
        The scan row, or None when the manifest does not exist or scanning is disabled.
    """
    if not _config()["scanning_enabled"] and not force:
        return None
    now = timezone.now()
    with transaction.atomic():
        manifest = Manifest.objects.filter(id=manifest_id).first()
        if manifest is None:
            return None
        scan, created = ManifestScan.objects.select_for_update().get_or_create(
            manifest=manifest, defaults={"pushed_at": manifest.created, "queued_at": now}
        )
        settled = scan.status != Status.FAILED and scan.indexer_version in (0, INDEXER_VERSION)
        if not created and (force or not settled):
            scan.status, scan.reason, scan.attempts = Status.QUEUED, "", 0
            scan.next_attempt_at, scan.started_at, scan.queued_at = None, None, now
            scan.save(update_fields=["status", "reason", "attempts", "next_attempt_at", "started_at", "queued_at"])
        child_ids = list(ManifestChild.objects.filter(manifest=manifest).values_list("child_id", flat=True))
    for child_id in child_ids:
        manifest_scan_queue(manifest_id=child_id, force=force)
    return scan


def manifest_scan_sweep() -> SweepReport:
    """Periodic upkeep of the queue: re-queue scans whose worker died, queue manifests that have
    no scan yet (pushed while no broker answered, or before scanning was on) and scans of an
    older indexer; return the ids due now, most recently pushed first (``security.batch_size``)."""
    config = _config()
    report = SweepReport()
    now = timezone.now()
    stale_before = now - timedelta(seconds=config["stale_after_s"])
    with transaction.atomic():
        for scan in ManifestScan.objects.select_for_update().filter(status=Status.IN_PROGRESS, started_at__lt=stale_before):
            scan.attempts += 1
            if scan.attempts >= config["max_attempts"]:
                scan.status, scan.next_attempt_at = Status.FAILED, None
                scan.reason = f"the scan did not finish within {config['stale_after_s']} s, {scan.attempts} times; gave up"
            else:
                scan.status, scan.next_attempt_at = Status.QUEUED, None
                scan.reason = f"the worker scanning this manifest was lost; queued again (attempt {scan.attempts + 1})"
            scan.started_at = None
            scan.save(update_fields=["attempts", "status", "next_attempt_at", "reason", "started_at"])
            report.requeued_stale += 1
    if not config["scanning_enabled"]:
        return report
    batch = config["batch_size"]
    missing = Manifest.objects.filter(security_scan__isnull=True, deleted_at__isnull=True).order_by("-created").values_list("id", flat=True)[:batch]
    for manifest_id in list(missing):
        if manifest_scan_queue(manifest_id=manifest_id) is not None:
            report.queued_new += 1
    outdated = ManifestScan.objects.filter(status__in=[Status.SCANNED, Status.UNSUPPORTED]).exclude(indexer_version=INDEXER_VERSION)
    for manifest_id in list(outdated.order_by("-pushed_at").values_list("manifest_id", flat=True)[:batch]):
        manifest_scan_queue(manifest_id=manifest_id)
        report.queued_outdated += 1
    due = ManifestScan.objects.filter(Q(status=Status.QUEUED) | Q(status=Status.FAILED, next_attempt_at__lte=now))
    due = due.filter(manifest__deleted_at__isnull=True)
    report.due = list(due.order_by("-pushed_at", "-id").values_list("manifest_id", flat=True)[:batch])
    return report


# --- running --------------------------------------------------------------------------------
def _claim(manifest_id: int, *, limit_workers: bool) -> bool:
    now = timezone.now()
    config = _config()
    with transaction.atomic():
        running = ManifestScan.objects.filter(status=Status.IN_PROGRESS, started_at__gte=now - timedelta(seconds=config["stale_after_s"]))
        if limit_workers and running.count() >= config["indexer_workers"]:
            return False
        claimable = Q(status=Status.QUEUED) | Q(status=Status.FAILED, next_attempt_at__lte=now)
        return ManifestScan.objects.filter(claimable, manifest_id=manifest_id).update(status=Status.IN_PROGRESS, started_at=now) == 1


def _open_blob(blob: Blob) -> IO[bytes]:
    last: Exception | None = None
    for name in blob_holding_locations(blob=blob):
        try:
            return get_location(name).open(blob_path(blob.digest))
        except StorageError as exc:  # ObjectNotFound included: try the next copy
            last = exc
    if last is None or isinstance(last, ObjectNotFound):
        raise ScanFailed(f"layer {blob.digest} is missing from storage")
    raise ScanFailed(f"layer {blob.digest} could not be read from storage: {last}")


def layer_index_get(*, digest: str, media_type: str = "") -> LayerIndex:
    """The cached index of the layer ``digest``, reading the layer (once) when it is not cached
    for the current indexer version.

    Raises:
        ScanFailed: the layer is unknown, missing from storage or damaged.
    """
    cached = LayerIndex.objects.filter(digest=digest, indexer_version=INDEXER_VERSION).first()
    if cached is not None:
        return cached
    blob = Blob.objects.filter(digest=digest).first()
    if blob is None:
        raise ScanFailed(f"layer {digest} is not in the registry")
    started = time.monotonic()
    status, reason, content_json, count = LayerIndex.Status.INDEXED, "", {}, 0
    handle = _open_blob(blob)
    try:
        content = index_layer(handle, media_type=media_type)
        content_json, count = content.as_json(), content.package_count
    except LayerUnsupported as exc:
        status, reason = LayerIndex.Status.UNSUPPORTED, str(exc)
    except LayerDamaged as exc:
        raise ScanFailed(f"layer {digest}: {exc}") from exc
    except (StorageError, OSError) as exc:
        raise ScanFailed(f"layer {digest} could not be read: {exc}") from exc
    finally:
        handle.close()
    row, _ = LayerIndex.objects.update_or_create(
        digest=digest,
        defaults={
            "indexer_version": INDEXER_VERSION, "status": status, "reason": reason, "content": content_json,
            "package_count": count, "size": blob.size, "duration_ms": int((time.monotonic() - started) * 1000),
        },
    )
    return row


def _image_layers(manifest: Manifest) -> list[tuple[str, str]]:
    """(digest, media type) of the image's layers, bottom first.

    Raises:
        _Unsupported: not an image this indexer reads.
    """
    try:
        parsed = parse_manifest(bytes(manifest.content), manifest.media_type, manifest.digest.partition(":")[0])
    except RegistryError as exc:
        raise _Unsupported(f"the manifest cannot be parsed as an image manifest ({exc})") from exc
    config_type = parsed.config_media_type
    if config_type not in IMAGE_CONFIG_TYPES:
        what = parsed.artifact_type or config_type or "unknown"
        raise _Unsupported(f"not a container image: an artifact of type {what}")
    return [(layer.digest, layer.media_type) for layer in parsed.layers if not any(m in layer.media_type for m in _FOREIGN_LAYER_MARKERS)]


def _package_json(package: Package, layer: str) -> dict[str, str]:
    return {**asdict(package), "layer": layer}


def package_from_json(data: dict[str, Any]) -> Package:
    """A :class:`Package` from its stored JSON (``layer`` and unknown keys dropped)."""
    return Package(**{key: str(data.get(key, "")) for key in ("name", "version", "ecosystem", "source_name", "path", "purl", "license")})


def _finish(manifest_id: int, *, status: str, reason: str = "", distro: str = "", packages: list[dict[str, str]] | None = None) -> ManifestScan:
    now = timezone.now()
    with transaction.atomic():
        scan = ManifestScan.objects.select_for_update().get(manifest_id=manifest_id)
        scan.status, scan.reason, scan.distro = status, reason, distro
        scan.packages = packages or []
        scan.package_count = len(scan.packages)
        scan.indexer_version, scan.scanned_at, scan.started_at, scan.next_attempt_at = INDEXER_VERSION, now, None, None
        scan.save()
        if status != Status.SCANNED:
            ManifestFinding.objects.filter(manifest_id=manifest_id).delete()
    return scan


def _fail(manifest_id: int, reason: str) -> ManifestScan:
    config = _config()
    with transaction.atomic():
        scan = ManifestScan.objects.select_for_update().get(manifest_id=manifest_id)
        scan.attempts += 1
        scan.status, scan.started_at = Status.FAILED, None
        if scan.attempts >= config["max_attempts"]:
            scan.next_attempt_at = None
            scan.reason = f"{reason} (gave up after {scan.attempts} attempts; rescan to try again)"
        else:
            scan.next_attempt_at = timezone.now() + _backoff(scan.attempts)
            scan.reason = reason
        scan.save(update_fields=["attempts", "status", "started_at", "next_attempt_at", "reason"])
    return scan


def manifest_scan_run(*, manifest_id: int, limit_workers: bool = True) -> ManifestScan | None:
    """Scan one manifest if it is due (queued, or failed and past its retry time) and fewer
    than ``security.indexer_workers`` scans are running; safe to run twice.

    An index is "scanned" once its children are queued (each child is scanned on its own and the
    index's report gathers them per platform); an artifact that is not an image is
    ``unsupported``; a layer that cannot be read makes the scan ``failed`` with the reason, to be
    retried with backoff.

    ``limit_workers=False`` (``manage.py scan``) runs it whatever else is running.

    Returns:
        The scan row afterwards, or None when the manifest has no scan row.
    """
    scan = ManifestScan.objects.filter(manifest_id=manifest_id).first()
    if scan is None:
        return None
    if not _claim(manifest_id, limit_workers=limit_workers):
        return ManifestScan.objects.get(pk=scan.pk)
    manifest = Manifest.objects.select_related("repository").get(id=manifest_id)
    try:
        if manifest.media_type in INDEX_TYPES:
            child_ids = list(ManifestChild.objects.filter(manifest=manifest).values_list("child_id", flat=True))
            for child_id in child_ids:
                manifest_scan_queue(manifest_id=child_id)
            result = _finish(manifest_id, status=Status.SCANNED, reason=f"an index of {len(child_ids)} manifests; each is scanned on its own")
            for child_id in child_ids:
                manifest_scan_run(manifest_id=child_id, limit_workers=limit_workers)
            return result
        layers = [(digest, layer_index_get(digest=digest, media_type=media_type)) for digest, media_type in _image_layers(manifest)]
    except _Unsupported as exc:
        return _finish(manifest_id, status=Status.UNSUPPORTED, reason=str(exc))
    except ScanFailed as exc:
        logger.warning("scan of manifest %s failed: %s", manifest_id, exc)
        return _fail(manifest_id, str(exc))
    except Exception as exc:  # noqa: BLE001 - a bug must fail the scan visibly, never leave it in progress
        logger.exception("scan of manifest %s failed unexpectedly", manifest_id)
        return _fail(manifest_id, f"internal error: {type(exc).__name__}: {exc}")
    unsupported = [row for _, row in layers if row.status == LayerIndex.Status.UNSUPPORTED]
    if unsupported:
        return _finish(manifest_id, status=Status.UNSUPPORTED, reason=f"layer {unsupported[0].digest}: {unsupported[0].reason}")
    found = image_packages((digest, row.content) for digest, row in layers)
    packages = [_package_json(package, layer) for package, layer in found.packages]
    _finish(manifest_id, status=Status.SCANNED, distro=found.distro, packages=packages)
    try:
        manifest_findings_refresh(manifest=manifest, packages=packages)
    except Exception:  # noqa: BLE001 - the index is stored; the next re-match fills the findings
        logger.exception("matching manifest %s failed", manifest_id)
    return ManifestScan.objects.get(manifest_id=manifest_id)


# --- matching and findings ------------------------------------------------------------------
def _finding_key(vulnerability_id: str, package: dict[str, Any]) -> str:
    raw = "\0".join([vulnerability_id, package.get("ecosystem", ""), package.get("name", ""), package.get("version", ""), package.get("path", "")])
    return hashlib.sha256(raw.encode()).hexdigest()


def _manifest_tags(manifest: Manifest) -> list[str]:
    """Live tags of the manifest and of the indexes that list it (Quay's event ``tags``)."""
    parents = ManifestChild.objects.filter(child=manifest).values_list("manifest_id", flat=True)
    query = Tag.objects.filter(live_tags(), Q(manifest=manifest) | Q(manifest_id__in=parents), repository_id=manifest.repository_id)
    return sorted(set(query.values_list("name", flat=True)))


def manifest_findings_refresh(*, manifest: Manifest, packages: list[dict[str, Any]] | None = None, notify: bool = True) -> tuple[int, int, int]:
    """Match the manifest's stored packages against the current vulnerability database and
    replace its findings; findings not seen before at or above ``security.notify_min_severity``
    raise one ``vulnerability_found`` event per vulnerability.

    Returns:
        (findings, new findings, events raised).
    """
    if packages is None:
        scan = ManifestScan.objects.get(manifest=manifest)
        packages = scan.packages
    layer_of = {(p.get("ecosystem"), p.get("name"), p.get("version"), p.get("path")): p.get("layer", "") for p in packages}
    findings: list[Finding] = match_packages([package_from_json(p) for p in packages]) if packages else []
    now = timezone.now()
    threshold = PRIORITY_INDEX.get(_config()["notify_min_severity"], 2)
    with transaction.atomic():
        previous = {
            _finding_key(row.vulnerability_id, row.package): row.first_seen
            for row in ManifestFinding.objects.filter(manifest=manifest).only("vulnerability_id", "package", "first_seen")
        }
        ManifestFinding.objects.filter(manifest=manifest).delete()
        rows, new_rows, seen = [], [], set()
        for finding in findings:
            package = asdict(finding.package)
            package["layer"] = layer_of.get((package["ecosystem"], package["name"], package["version"], package["path"]), "")
            key = _finding_key(finding.vulnerability_id, package)
            if key in seen:
                continue
            seen.add(key)
            row = ManifestFinding(
                manifest=manifest, vulnerability_id=finding.vulnerability_id[:128], package=package,
                package_name=finding.package.name[:255], package_version=finding.package.version[:255],
                ecosystem=finding.package.ecosystem[:64], severity=finding.severity,
                severity_index=PRIORITY_INDEX.get(finding.severity, 6), summary=finding.summary,
                fixed_version=finding.fixed_version[:255], aliases=list(finding.aliases), links=list(finding.links),
                first_seen=previous.get(key, now),
            )
            rows.append(row)
            if key not in previous:
                new_rows.append(row)
        ManifestFinding.objects.bulk_create(rows, batch_size=500)
        ManifestScan.objects.filter(manifest=manifest).update(matched_at=now)
        events = _notify(manifest, [row for row in new_rows if row.severity_index <= threshold]) if notify else 0
    return len(rows), len(new_rows), events


def _notify(manifest: Manifest, rows: list[ManifestFinding]) -> int:
    """One ``vulnerability_found`` per vulnerability (its most severe finding), Quay's payload."""
    if not rows:
        return 0
    worst: dict[str, ManifestFinding] = {}
    for row in rows:
        if row.vulnerability_id not in worst or row.severity_index < worst[row.vulnerability_id].severity_index:
            worst[row.vulnerability_id] = row
    repository = manifest.repository
    tags = _manifest_tags(manifest)
    ordered = sorted(worst.values(), key=lambda r: (r.severity_index, r.vulnerability_id))[:MAX_EVENTS_PER_SCAN]
    for row in ordered:
        payload = repository_event_data(repository.namespace.name, repository.name, {
            "tags": tags,
            "image": manifest.digest,
            "vulnerability": {
                "id": row.vulnerability_id,
                "description": row.summary,
                "link": row.links[0] if row.links else "",
                "priority": row.severity,
                "has_fix": bool(row.fixed_version),
                "package": f"{row.package_name} {row.package_version}",
                "fixed_in_version": row.fixed_version,
            },
        })
        emit_registry_event("vulnerability_found", namespace_id=repository.namespace_id, repository_id=repository.id, payload=payload)
    return len(ordered)


def manifests_rematch_all(*, batch_size: int = 200) -> RematchReport:
    """Re-match every scanned manifest's stored packages against the current vulnerability
    database, without reading any layer (after ``vulndb_import``); new findings notify."""
    report = RematchReport()
    ids = ManifestScan.objects.filter(status=Status.SCANNED, package_count__gt=0).order_by("-pushed_at").values_list("manifest_id", flat=True)
    for manifest in Manifest.objects.filter(id__in=list(ids)).select_related("repository__namespace").iterator(chunk_size=batch_size):
        try:
            total, new, events = manifest_findings_refresh(manifest=manifest)
        except Exception:  # noqa: BLE001 - one manifest must not stop the others
            logger.exception("re-matching manifest %s failed", manifest.id)
            continue
        report.manifests += 1
        report.findings += total
        report.new_findings += new
        report.events += events
    return report


def manifest_rescan(*, manifest_id: int) -> ManifestScan:
    """Start the manifest's scan over (the admin's "Rescan", ``manage.py scan --rescan``):
    cached layers are read again too.

    Raises:
        NotFoundError: no such manifest.
    """
    manifest = Manifest.objects.filter(id=manifest_id).first()
    if manifest is None:
        raise NotFoundError("no such manifest", detail={"manifest_id": manifest_id})
    layer_digests = []
    if manifest.media_type not in INDEX_TYPES:
        try:
            layer_digests = [digest for digest, _ in _image_layers(manifest)]
        except _Unsupported:
            pass
    LayerIndex.objects.filter(digest__in=layer_digests).delete()
    scan = manifest_scan_queue(manifest_id=manifest_id, force=True)
    assert scan is not None
    return scan


def manifests_for_scan(*, repository_ids: Iterable[int] | None = None) -> list[int]:
    """Ids of live manifests (of ``repository_ids``, or all), most recently pushed first."""
    query = Manifest.objects.filter(deleted_at__isnull=True)
    if repository_ids is not None:
        query = query.filter(repository_id__in=list(repository_ids))
    return list(query.order_by("-created").values_list("id", flat=True))


__all__ = [
    "IMAGE_CONFIG_TYPES", "RematchReport", "ScanFailed", "SweepReport", "layer_index_get", "manifest_findings_refresh",
    "manifest_rescan", "manifest_scan_queue", "manifest_scan_run", "manifest_scan_sweep", "manifests_for_scan",
    "manifests_rematch_all", "package_from_json",
]
