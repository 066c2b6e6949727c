"""Upload housekeeping."""

from celery import shared_task

from repositories.services.uploads import stale_uploads_remove


@shared_task(name="registry.uploads.remove_stale")
def remove_stale_uploads() -> int:
    """Remove upload sessions idle longer than ``uploads.stale_after_s`` (idempotent)."""
    return stale_uploads_remove()
