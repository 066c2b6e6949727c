"""Audit-log rotation, exports and the pull buffer: thin wrappers over repositories.services."""

from celery import shared_task

from repositories.services.audit import audit_buffer_drain
from repositories.services.logs import log_export_run, logs_rotate


@shared_task(name="registry.logs.rotate")
def rotate() -> dict:
    """Archive (to storage) and remove audit-log entries older than ``logs.retention_days``.
    Periodic; a no-op when ``logs.rotation`` is off or nothing is old enough."""
    from django.conf import settings

    if not settings.MOORAGE["logs"]["rotation"]:
        return {"skipped": "logs.rotation is off"}
    return logs_rotate().as_dict()


@shared_task(name="registry.logs.export")
def export(export_id: str) -> str | None:
    """Write one requested export to storage and deliver its link (idempotent)."""
    done = log_export_run(export_id=export_id)
    return done.state if done is not None else None


@shared_task(name="registry.logs.drain_audit_buffer")
def drain_audit_buffer() -> int:
    """Write the audit entries buffered in Redis (pulls) to the table (periodic; nothing to do
    without Redis, where they are written at once)."""
    return audit_buffer_drain()
