"""Domain signals -> queued work, always after the database commit.

The workers issue (#6) hangs notifications, scanning and statistics here.
"""

import logging  # noqa: E402

from django.dispatch import receiver  # noqa: E402

from repositories import signals  # noqa: E402


def enqueue(task, *args) -> None:  # noqa: ANN001
    """Queue ``task``; a broker outage is logged, never turned into an error of the request
    whose transaction already committed (periodic catch-up tasks pick the work up)."""
    try:
        task.delay(*args)
    except Exception:  # noqa: BLE001 - any broker/transport error
        logging.getLogger(__name__).exception("could not queue %s%r", task.name, args)


@receiver(signals.repository_deleted, dispatch_uid="gc.purge_repository")
def _purge_deleted_repository(sender, repository_id: int, **kwargs) -> None:  # noqa: ANN001
    from tasks.gc import purge_repository

    enqueue(purge_repository, repository_id)
