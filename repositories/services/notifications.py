"""Notification services: configure notifications, turn events into deliveries, deliver them.

An event (a push, an expiring tag, a quota threshold...) becomes one ``NotificationDelivery`` per
enabled notification listening to it (``notification_event_dispatch``); the delivery task calls
``notification_deliver`` for each, which claims the row, performs the method once, logs the
attempt, and says when to retry (exponential backoff). After ``notifications.max_failures``
consecutive failed attempts the notification disables itself until ``notification_reset``.
Deliveries are the outbox: a periodic task re-queues overdue pending ones, so a broker outage
loses nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Namespace
from accounts.principals import Principal
from repositories import signals
from repositories.models import Repository, Tag
from repositories.models.notifications import (
    NamespaceNotification,
    NotificationDelivery,
    NotificationDeliveryAttempt,
    NotificationEvent,
    RepositoryNotification,
    TagExpiryNotice,
    UserNotification,
)
from repositories.services.audit import RequestInfo, audit_log
from repositories.services.notification_events import complete_payload, repository_event_data, sample_payload, should_perform, validate_event
from repositories.services.notification_methods import perform, validate_method_config

logger = logging.getLogger(__name__)

Notification = RepositoryNotification | NamespaceNotification
#: a claimed delivery is free again after the send timeout plus this margin (a crashed worker)
_CLAIM_MARGIN_S = 60


def _section() -> dict[str, Any]:
    return settings.MOORAGE["notifications"]


# --- configuration ------------------------------------------------------------------------------


def repository_notification_create(
    *, repository: Repository, event: str, method: str, config: Any, event_config: Any, title: str = "",
    actor: Principal | None = None, request: RequestInfo | None = None,
) -> RepositoryNotification:
    """Add a notification to ``repository``.

    Raises:
        InvalidRequestError: a bad event, method, config or event config; a webhook or Slack URL
            the outbound policy refuses.
    """
    event_config = validate_event(event, event_config, scope="repository")
    config, secret = validate_method_config(method, config, namespace=repository.namespace)
    with transaction.atomic():
        notification = RepositoryNotification.objects.create(
            repository=repository, event=event, method=method, config=config, secret=secret, event_config=event_config, title=(title or "")[:255]
        )
        audit_log(kind="add_repo_notification", principal=actor, repository=repository, request=request, metadata=_audit_metadata(notification))
    return notification


def namespace_notification_create(
    *, namespace: Namespace, event: str, method: str, config: Any, event_config: Any, title: str = "",
    actor: Principal | None = None, request: RequestInfo | None = None,
) -> NamespaceNotification:
    """Add a namespace-wide notification (quota events).

    Raises:
        InvalidRequestError: as ``repository_notification_create``.
    """
    event_config = validate_event(event, event_config, scope="namespace")
    config, secret = validate_method_config(method, config, namespace=namespace)
    with transaction.atomic():
        notification = NamespaceNotification.objects.create(
            namespace=namespace, event=event, method=method, config=config, secret=secret, event_config=event_config, title=(title or "")[:255]
        )
        audit_log(
            kind="create_namespace_notification", principal=actor, namespace_name=namespace.name, request=request,
            metadata=_audit_metadata(notification),
        )
    return notification


def _audit_metadata(notification: Notification) -> dict[str, Any]:
    metadata: dict[str, Any] = {"notification_id": str(notification.uuid), "event": notification.event, "method": notification.method}
    if isinstance(notification, RepositoryNotification):
        metadata.update(repo=notification.repository.name, namespace=notification.repository.namespace.name)
    else:
        metadata.update(namespace=notification.namespace.name)
    return metadata


def _audit(kind: str, notification: Notification, actor: Principal | None, request: RequestInfo | None) -> None:
    if isinstance(notification, RepositoryNotification):
        audit_log(kind=kind, principal=actor, repository=notification.repository, request=request, metadata=_audit_metadata(notification))
    else:
        audit_log(kind=kind, principal=actor, namespace_name=notification.namespace.name, request=request, metadata=_audit_metadata(notification))


def notification_delete(*, notification: Notification, actor: Principal | None = None, request: RequestInfo | None = None) -> None:
    """Delete a notification with its delivery log."""
    kind = "delete_repo_notification" if isinstance(notification, RepositoryNotification) else "delete_namespace_notification"
    with transaction.atomic():
        _audit(kind, notification, actor, request)
        notification.delete()


def notification_reset(*, notification: Notification, actor: Principal | None = None, request: RequestInfo | None = None) -> Notification:
    """Reset the failure counter and enable the notification again (Quay's POST on it)."""
    kind = "reset_repo_notification" if isinstance(notification, RepositoryNotification) else "reset_namespace_notification"
    with transaction.atomic():
        type(notification).objects.filter(pk=notification.pk).update(number_of_failures=0, enabled=True)
        notification.number_of_failures, notification.enabled = 0, True
        _audit(kind, notification, actor, request)
    return notification


def notification_test(*, notification: Notification) -> NotificationDelivery:
    """Queue a delivery of the event's sample data (the "test" action). Tests are tried once,
    even while the notification is disabled, and do not count towards disabling it."""
    if isinstance(notification, RepositoryNotification):
        repository = notification.repository
        payload = sample_payload(notification.event, namespace=repository.namespace.name, repository_name=repository.name, event_config=notification.event_config)
    else:
        payload = sample_payload(notification.event, namespace=notification.namespace.name, repository_name=None, event_config=notification.event_config)
    delivery = _delivery_create(notification, notification.event, payload, is_test=True)
    transaction.on_commit(lambda: signals.notification_deliveries_created.send(sender=NotificationDelivery, delivery_ids=(delivery.pk,)))
    return delivery


def user_notification_set_dismissed(*, notification: UserNotification, dismissed: bool) -> UserNotification:
    UserNotification.objects.filter(pk=notification.pk).update(dismissed=dismissed)
    notification.dismissed = dismissed
    return notification


# --- events -> deliveries -----------------------------------------------------------------------


def _delivery_create(notification: Notification, event: str, payload: dict[str, Any], *, is_test: bool = False) -> NotificationDelivery:
    owner = {"repository_notification": notification} if isinstance(notification, RepositoryNotification) else {"namespace_notification": notification}
    return NotificationDelivery.objects.create(**owner, event=event, payload=payload, is_test=is_test, next_attempt_at=timezone.now())


def notification_event_dispatch(*, event: str, namespace_id: int, repository_id: int | None, payload: dict[str, Any]) -> list[int]:
    """One delivery for each enabled notification listening to ``event`` (repository
    notifications of ``repository_id``, namespace notifications of ``namespace_id``) whose event
    config accepts the payload. Returns the new deliveries' ids, to queue."""
    repository_notifications: list[Notification] = []
    repository_name: str | None = None
    if repository_id is not None:
        repository_notifications = list(
            RepositoryNotification.objects.filter(repository_id=repository_id, event=event, enabled=True).select_related("repository")
        )
        if repository_notifications:
            repository_name = repository_notifications[0].repository.name
    namespace_notifications: list[Notification] = list(NamespaceNotification.objects.filter(namespace_id=namespace_id, event=event, enabled=True))
    if not repository_notifications and not namespace_notifications:
        return []
    namespace = Namespace.objects.get(pk=namespace_id)
    ids: list[int] = []
    with transaction.atomic():
        for notification in repository_notifications:
            full = complete_payload(event, payload, namespace=namespace.name, repository_name=repository_name)
            if should_perform(event, notification.event_config, full):
                ids.append(_delivery_create(notification, event, full).pk)
        for notification in namespace_notifications:
            full = complete_payload(event, payload, namespace=namespace.name, repository_name=None)
            if should_perform(event, notification.event_config, full):
                ids.append(_delivery_create(notification, event, full).pk)
    return ids


def notification_push_dispatch(*, repository_id: int, tags: tuple[str, ...] | list[str]) -> list[int]:
    """``repo_push`` deliveries for a manifest push that named ``tags`` (Quay sends none for a
    push by digest only)."""
    if not tags or not RepositoryNotification.objects.filter(repository_id=repository_id, event=NotificationEvent.REPO_PUSH, enabled=True).exists():
        return []
    repository = Repository.objects.select_related("namespace").filter(pk=repository_id).first()
    if repository is None:
        return []
    payload = repository_event_data(repository.namespace.name, repository.name, {"updated_tags": list(tags)})
    return notification_event_dispatch(event=NotificationEvent.REPO_PUSH, namespace_id=repository.namespace_id, repository_id=repository.pk, payload=payload)


def notification_expiry_scan(*, now: datetime | None = None) -> list[int]:
    """``repo_image_expiry`` deliveries: for each enabled notification, the live tags of its
    repository whose expiry falls within its ``days`` and that were not announced before (one
    notice per tag lifetime). Returns the new deliveries' ids."""
    now = now or timezone.now()
    ids: list[int] = []
    for notification_id in RepositoryNotification.objects.filter(event=NotificationEvent.REPO_IMAGE_EXPIRY, enabled=True).values_list("pk", flat=True):
        with transaction.atomic():
            query = RepositoryNotification.objects.select_related("repository__namespace").filter(pk=notification_id, enabled=True)
            if connection.vendor == "postgresql":
                query = query.select_for_update(of=("self",))  # two scans at once cannot both announce a tag
            notification = query.first()
            if notification is None or notification.repository.deleted_at is not None:
                continue
            days = int(notification.event_config.get("days") or 0)
            announced = TagExpiryNotice.objects.filter(notification=notification).values("tag_row_id")
            tags = list(
                Tag.objects.filter(
                    repository_id=notification.repository_id, lifetime_end__isnull=True, hidden=False,
                    expires_at__gt=now, expires_at__lte=now + timedelta(days=days),
                ).exclude(pk__in=announced).order_by("expires_at", "name").values_list("pk", "name")
            )
            if not tags:
                continue
            TagExpiryNotice.objects.bulk_create([TagExpiryNotice(notification=notification, tag_row_id=pk) for pk, _ in tags], ignore_conflicts=True)
            repository = notification.repository
            payload = repository_event_data(repository.namespace.name, repository.name, {"tags": [name for _, name in tags], "expiring_in": f"{days} days"})
            ids.append(_delivery_create(notification, NotificationEvent.REPO_IMAGE_EXPIRY, payload).pk)
    return ids


# --- delivering ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryOutcome:
    """What one call of ``notification_deliver`` did: ``status`` is the delivery's status after
    it (``skipped`` when another worker holds it or it was finished); ``retry_in`` the seconds
    until the next try, when one is due."""

    delivery_id: int
    status: str
    retry_in: int | None = None


def _claim(delivery_id: int, now: datetime) -> bool:
    until = now + timedelta(seconds=float(_section()["timeout_s"]) + _CLAIM_MARGIN_S)
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    return bool(
        NotificationDelivery.objects.filter(free, pk=delivery_id, status=NotificationDelivery.Status.PENDING).update(claimed_until=until)
    )


def notification_deliver(*, delivery_id: int) -> DeliveryOutcome:
    """Try delivery ``delivery_id`` once (idempotent: a finished or claimed delivery is skipped).

    The send happens outside any transaction; the attempt, the counters and the notification's
    self-disabling are written in one transaction afterwards.
    """
    now = timezone.now()
    if not _claim(delivery_id, now):
        return DeliveryOutcome(delivery_id, "skipped")
    delivery = NotificationDelivery.objects.select_related(
        "repository_notification__repository__namespace", "namespace_notification__namespace"
    ).filter(pk=delivery_id).first()
    if delivery is None:  # its notification was deleted meanwhile
        return DeliveryOutcome(delivery_id, "skipped")
    notification = delivery.notification
    namespace = notification.repository.namespace if isinstance(notification, RepositoryNotification) else notification.namespace
    if not notification.enabled and not delivery.is_test:
        return _finish(delivery, NotificationDelivery.Status.FAILED, "the notification is disabled")
    result = perform(
        method=notification.method, config=notification.config, secret=notification.secret, namespace=namespace,
        event=delivery.event, payload=delivery.payload, delivery_uuid=str(delivery.uuid),
    )
    section = _section()
    with transaction.atomic():
        NotificationDeliveryAttempt.objects.create(
            delivery=delivery, succeeded=result.succeeded, http_status=result.http_status, error=result.error[:4000], duration_ms=result.duration_ms
        )
        delivery.attempts += 1
        model = type(notification)
        if result.succeeded:
            if not delivery.is_test:
                model.objects.filter(pk=notification.pk).update(number_of_failures=0)
            return _finish(delivery, NotificationDelivery.Status.SUCCEEDED, "")
        disabled = False
        if not delivery.is_test:
            model.objects.filter(pk=notification.pk).update(number_of_failures=F("number_of_failures") + 1)
            failures = model.objects.filter(pk=notification.pk).values_list("number_of_failures", flat=True).first() or 0
            if failures >= section["max_failures"]:
                disabled = bool(model.objects.filter(pk=notification.pk, enabled=True).update(enabled=False))
                if disabled:
                    logger.warning("notification %s disabled after %d consecutive failures", notification.uuid, failures)
        still_enabled = model.objects.filter(pk=notification.pk, enabled=True).exists()
        if delivery.is_test or delivery.attempts >= section["max_attempts"] or not still_enabled:
            reason = result.error + (" (the notification disabled itself)" if disabled else "")
            return _finish(delivery, NotificationDelivery.Status.FAILED, reason)
        retry_in = int(section["retry_backoff_s"]) * 2 ** (delivery.attempts - 1)
        NotificationDelivery.objects.filter(pk=delivery.pk).update(
            attempts=delivery.attempts, last_error=result.error[:4000], claimed_until=None, next_attempt_at=timezone.now() + timedelta(seconds=retry_in)
        )
        return DeliveryOutcome(delivery.pk, NotificationDelivery.Status.PENDING, retry_in)


def _finish(delivery: NotificationDelivery, status: str, error: str) -> DeliveryOutcome:
    NotificationDelivery.objects.filter(pk=delivery.pk).update(
        status=status, attempts=delivery.attempts, last_error=error[:4000], claimed_until=None, next_attempt_at=None, finished=timezone.now()
    )
    return DeliveryOutcome(delivery.pk, status)


def overdue_delivery_ids(*, older_than_s: int = 300, limit: int = 1000) -> list[int]:
    """Pending deliveries whose try is overdue by ``older_than_s`` and that no worker holds
    (lost to a broker outage or a crashed worker): the catch-up task queues them again."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=older_than_s)
    return list(
        NotificationDelivery.objects.filter(status=NotificationDelivery.Status.PENDING, next_attempt_at__lt=cutoff)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


def notification_log_prune(*, now: datetime | None = None) -> int:
    """Remove finished deliveries (with their attempt log) older than
    ``notifications.log_retention_days``, dismissed in-app notifications as old, and expiry
    notices of tag rows that no longer exist. Returns the number of rows removed."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=_section()["log_retention_days"])
    removed = NotificationDelivery.objects.filter(finished__lt=cutoff).exclude(status=NotificationDelivery.Status.PENDING).delete()[0]
    removed += UserNotification.objects.filter(dismissed=True, created__lt=cutoff).delete()[0]
    removed += TagExpiryNotice.objects.exclude(tag_row_id__in=Tag.objects.values("pk")).delete()[0]
    return removed
