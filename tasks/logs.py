"""Audit-log rotation and exports: thin wrappers over repositories.services.logs."""

from celery import shared_task

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
