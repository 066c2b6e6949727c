"""Garbage collection: thin wrappers over repositories.services.gc."""

import time

from celery import shared_task

from repositories.services.gc import GcReport, gc_run, repositories_pending_purge, repository_purge, usage_changed
from tasks import metrics


def _count(report: GcReport) -> None:
    for kind in ("tags", "manifests", "blobs"):
        metrics.GC_EXAMINED.labels(kind).inc(getattr(report, f"{kind}_examined"))
        metrics.GC_DELETED.labels(kind).inc(getattr(report, f"{kind}_deleted"))
    metrics.GC_DELETED.labels("uploads").inc(report.uploads_deleted)
    metrics.GC_BYTES.inc(report.bytes_reclaimed)


@shared_task(name="registry.gc.collect")
def collect() -> dict:
    """One registry-wide garbage-collection pass (periodic; safe to run while pushes go on)."""
    try:
        report = gc_run()
    except Exception:
        metrics.GC_RUNS.labels("failed").inc()
        raise
    _count(report)
    metrics.GC_RUNS.labels("errors" if report.errors else "succeeded").inc()
    metrics.GC_LAST_SUCCESS.set(time.time())
    return report.as_dict()


@shared_task(name="registry.gc.purge_repository")
def purge_repository(repository_id: int, namespace_id: int | None = None) -> bool:
    """Remove the content of a repository marked deleted (idempotent); the storage use of the
    namespace it was in is recomputed."""
    purged = repository_purge(repository_id=repository_id)
    if namespace_id is not None:
        usage_changed(namespace_id)
    return purged


@shared_task(name="registry.gc.purge_pending")
def purge_pending() -> int:
    """Catch-up: purge every repository still marked deleted (a lost queue message, a crash)."""
    return sum(repository_purge(repository_id=repository_id) for repository_id in repositories_pending_purge())
