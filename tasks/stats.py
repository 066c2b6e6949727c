"""Pull statistics: a thin wrapper over repositories.services.pull_stats."""

from celery import shared_task

from repositories.services.pull_stats import pull_stats_flush


@shared_task(name="registry.stats.flush_pulls")
def flush_pulls() -> dict:
    """Move the pull counts buffered in Redis into the statistics rows (periodic; nothing to do
    without Redis, where pulls are counted in the database directly)."""
    return pull_stats_flush().as_dict()
