"""Vulnerability scanning: thin wrappers over repositories.services.scans.

Routed to the ``scan`` queue (``registry.scan.*``), so a scan backlog never delays other work.
"""

from celery import shared_task

from repositories.services.scans import manifest_scan_queue, manifest_scan_run, manifest_scan_sweep, manifests_rematch_all


@shared_task(name="registry.scan.manifest")
def scan_manifest(manifest_id: int) -> str | None:
    """Scan one manifest if it is due (idempotent: a scanned manifest is left alone)."""
    scan = manifest_scan_run(manifest_id=manifest_id)
    return scan.status if scan is not None else None


@shared_task(name="registry.scan.queue_and_scan")
def queue_and_scan(manifest_id: int) -> str | None:
    """Queue a pushed manifest and scan it."""
    if manifest_scan_queue(manifest_id=manifest_id) is None:
        return None
    return scan_manifest(manifest_id)


@shared_task(name="registry.scan.sweep")
def sweep() -> dict:
    """Re-queue lost scans, queue manifests never scanned, and hand out the due ones (most
    recently pushed first, ``security.batch_size`` per run)."""
    report = manifest_scan_sweep()
    for manifest_id in report.due:
        scan_manifest.delay(manifest_id)
    return report.as_dict()


@shared_task(name="registry.scan.rematch_all")
def rematch_all() -> dict:
    """Re-match every scanned manifest against the current vulnerability database."""
    return manifests_rematch_all().as_dict()
