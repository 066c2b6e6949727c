"""Storage replication and housekeeping: thin wrappers over repositories.services.storage.

Routed to the ``replication`` queue (``registry.storage.*``).
"""

from celery import shared_task

from repositories.services.storage import manifest_blobs_replicate, replication_sweep, upload_orphans_remove


@shared_task(name="registry.storage.replicate_manifest_blobs")
def replicate_manifest_blobs(manifest_id: int) -> dict:
    """Copy a pushed manifest's blobs to every configured location (idempotent: blobs already
    placed are skipped). Failed copies are left to the periodic sweep."""
    return manifest_blobs_replicate(manifest_id=manifest_id).as_dict()


@shared_task(name="registry.storage.replicate_missing")
def replicate_missing() -> dict | None:
    """Catch-up: copy every blob missing from a location when ``storage.replicate_to_all`` is on."""
    report = replication_sweep()
    return report.as_dict() if report is not None else None


@shared_task(name="registry.storage.remove_upload_orphans")
def remove_upload_orphans() -> dict:
    """Remove backend upload state no upload session owns, idle for ``uploads.stale_after_s``."""
    return upload_orphans_remove().as_dict()
