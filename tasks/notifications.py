"""Notifications: thin wrappers over repositories.services.notifications (queue ``notifications``)."""

from __future__ import annotations

import logging

from celery import Task, shared_task

from repositories.services.notifications import (
    notification_deliver,
    notification_event_dispatch,
    notification_expiry_scan,
    notification_log_prune,
    notification_push_dispatch,
    overdue_delivery_ids,
)

logger = logging.getLogger(__name__)


def queue_deliveries(delivery_ids: list[int]) -> None:
    """Queue one delivery task per id; a broker error is logged (the catch-up task re-queues)."""
    for delivery_id in delivery_ids:
        try:
            deliver.delay(delivery_id)
        except Exception:  # noqa: BLE001 - any broker/transport error
            logger.exception("could not queue notification delivery %s", delivery_id)


@shared_task(name="registry.notifications.deliver", bind=True, max_retries=None)
def deliver(self: Task, delivery_id: int) -> str:
    """Try one delivery; schedule the next try with exponential backoff when one is due
    (idempotent: finished or claimed deliveries are skipped)."""
    outcome = notification_deliver(delivery_id=delivery_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.status


@shared_task(name="registry.notifications.dispatch_event")
def dispatch_event(event: str, namespace_id: int, repository_id: int | None, payload: dict) -> int:
    """Turn one registry event into deliveries and queue them."""
    ids = notification_event_dispatch(event=event, namespace_id=namespace_id, repository_id=repository_id, payload=payload)
    queue_deliveries(ids)
    return len(ids)


@shared_task(name="registry.notifications.dispatch_push")
def dispatch_push(repository_id: int, tags: list[str]) -> int:
    """``repo_push`` deliveries for one manifest push, queued."""
    ids = notification_push_dispatch(repository_id=repository_id, tags=tags)
    queue_deliveries(ids)
    return len(ids)


@shared_task(name="registry.notifications.expiry_scan")
def expiry_scan() -> int:
    """Periodic: ``repo_image_expiry`` notices for tags expiring soon (once per tag lifetime)."""
    ids = notification_expiry_scan()
    queue_deliveries(ids)
    return len(ids)


@shared_task(name="registry.notifications.requeue_overdue")
def requeue_overdue() -> int:
    """Periodic catch-up: queue pending deliveries whose message was lost."""
    ids = overdue_delivery_ids()
    queue_deliveries(ids)
    return len(ids)


@shared_task(name="registry.notifications.prune_log")
def prune_log() -> int:
    """Periodic: drop old finished deliveries and their attempt log."""
    return notification_log_prune()
