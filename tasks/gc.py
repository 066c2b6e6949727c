"""Garbage collection: thin wrappers over repositories.services.gc."""

from celery import shared_task

from repositories.services.gc import gc_run, repositories_pending_purge, repository_purge


@shared_task(name="registry.gc.collect")
def collect() -> dict:
    """One registry-wide garbage-collection pass (periodic; safe to run while pushes go on)."""
    return gc_run().as_dict()


@shared_task(name="registry.gc.purge_repository")
def purge_repository(repository_id: int) -> bool:
    """Remove the content of a repository marked deleted (idempotent)."""
    return repository_purge(repository_id=repository_id)


@shared_task(name="registry.gc.purge_pending")
def purge_pending() -> int:
    """Catch-up: purge every repository still marked deleted (a lost queue message, a crash)."""
    return sum(repository_purge(repository_id=repository_id) for repository_id in repositories_pending_purge())
