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
def _purge_deleted_repository(sender, repository_id: int, namespace_id: int | None = None, **kwargs) -> None:  # noqa: ANN001
    from tasks.gc import purge_repository

    enqueue(purge_repository, repository_id, namespace_id)


@receiver(signals.manifest_pushed, dispatch_uid="storage.replicate_manifest_blobs")
def _replicate_pushed_blobs(sender, manifest_id: int, **kwargs) -> None:  # noqa: ANN001
    from django.conf import settings

    if not settings.MOORAGE["storage"]["replicate_to_all"] or len(settings.MOORAGE_STORAGE_LOCATIONS) < 2:
        return
    from tasks.storage import replicate_manifest_blobs

    enqueue(replicate_manifest_blobs, manifest_id)


@receiver(signals.log_export_requested, dispatch_uid="logs.export")
def _export_logs(sender, export_id: str, **kwargs) -> None:  # noqa: ANN001
    from tasks.logs import export

    enqueue(export, export_id)


# Notifications: the deliveries are written here, right after the commit (one indexed query when
# nothing listens), and only their ids are queued: the delivery rows are the outbox, so a broker
# outage delays notifications (registry.notifications.requeue_overdue) but never loses them.
@receiver(signals.manifest_pushed, dispatch_uid="notifications.repo_push")
def _notify_push(sender, repository_id: int, tags=(), **kwargs) -> None:  # noqa: ANN001
    from repositories.services.notifications import notification_push_dispatch
    from tasks.notifications import queue_deliveries

    try:
        queue_deliveries(notification_push_dispatch(repository_id=repository_id, tags=tuple(tags)))
    except Exception:  # noqa: BLE001 - the push itself has committed; never fail it here
        logging.getLogger(__name__).exception("could not create repo_push notifications for repository %s", repository_id)


@receiver(signals.notification_deliveries_created, dispatch_uid="notifications.deliveries_created")
def _queue_notification_deliveries(sender, delivery_ids=(), **kwargs) -> None:  # noqa: ANN001
    from tasks.notifications import queue_deliveries

    queue_deliveries(list(delivery_ids))


@receiver(signals.registry_event, dispatch_uid="notifications.registry_event")
def _notify_event(sender, event: str, namespace_id: int, repository_id: int | None = None, payload=None, **kwargs) -> None:  # noqa: ANN001
    from repositories.services.notifications import notification_event_dispatch
    from tasks.notifications import queue_deliveries

    try:
        queue_deliveries(notification_event_dispatch(event=event, namespace_id=namespace_id, repository_id=repository_id, payload=dict(payload or {})))
    except Exception:  # noqa: BLE001 - the emitting transaction has committed; never fail it here
        logging.getLogger(__name__).exception("could not create %s notifications for namespace %s", event, namespace_id)


@receiver(signals.mirror_sync_requested, dispatch_uid="mirror.sync_now")
def _queue_requested_mirror_sync(sender, mirror_id: int, **kwargs) -> None:  # noqa: ANN001
    from tasks.mirror import schedule_due

    enqueue(schedule_due)


@receiver(signals.build_queued, dispatch_uid="builds.run")
def _queue_build(sender, build_id: int, **kwargs) -> None:  # noqa: ANN001
    from tasks.builds import run

    enqueue(run, build_id)


# Scanning: nothing is written on the push path; the task writes the scan row and scans. If the
# broker does not answer, registry.scan.sweep queues manifests that have no scan row.
@receiver(signals.manifest_pushed, dispatch_uid="security.scan_pushed_manifest")
def _scan_pushed_manifest(sender, manifest_id: int, **kwargs) -> None:  # noqa: ANN001
    from tasks.security import queue_and_scan

    enqueue(queue_and_scan, manifest_id)


@receiver(signals.vulnerability_database_updated, dispatch_uid="security.rematch_all")
def _rematch_after_import(sender, **kwargs) -> None:  # noqa: ANN001
    from tasks.security import rematch_all

    enqueue(rematch_all)
