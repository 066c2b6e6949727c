"""Notifications, after Quay: what to tell whom when something happens.

``RepositoryNotification`` and ``NamespaceNotification`` are configured notifications (an event,
a method and their JSON configs); each event that matches one becomes a ``NotificationDelivery``
(the outbox row a Celery task delivers, with retries), and every try of it a
``NotificationDeliveryAttempt`` (the delivery log). ``UserNotification`` is the in-app inbox
(Quay's ``Notification``) filled by the ``quay_notification`` method; ``TagExpiryNotice`` makes
sure a tag's ``repo_image_expiry`` notice goes out once per tag lifetime.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

from accounts.models import Namespace, User
from organizations.models import exactly_one_of
from repositories.models.content import Repository

__all__ = [
    "NotificationEvent", "NotificationMethod", "RepositoryNotification", "NamespaceNotification", "NotificationDelivery",
    "NotificationDeliveryAttempt", "UserNotification", "TagExpiryNotice",
]


class NotificationEvent(models.TextChoices):
    REPO_PUSH = "repo_push", "Push to repository"
    REPO_IMAGE_EXPIRY = "repo_image_expiry", "Image expiry trigger"
    VULNERABILITY_FOUND = "vulnerability_found", "Package vulnerability found"
    REPO_MIRROR_SYNC_STARTED = "repo_mirror_sync_started", "Repository mirror started"
    REPO_MIRROR_SYNC_SUCCESS = "repo_mirror_sync_success", "Repository mirror successful"
    REPO_MIRROR_SYNC_FAILED = "repo_mirror_sync_failed", "Repository mirror unsuccessful"
    QUOTA_WARNING = "quota_warning", "Quota warning"
    QUOTA_ERROR = "quota_error", "Quota error"
    BUILD_QUEUED = "build_queued", "Dockerfile build queued"
    BUILD_START = "build_start", "Dockerfile build started"
    BUILD_SUCCESS = "build_success", "Dockerfile build successfully completed"
    BUILD_FAILURE = "build_failure", "Dockerfile build failed"
    BUILD_CANCELLED = "build_cancelled", "Dockerfile build cancelled"


#: events a repository notification may listen to; namespace notifications take the others
REPOSITORY_EVENTS = frozenset({
    NotificationEvent.REPO_PUSH, NotificationEvent.REPO_IMAGE_EXPIRY, NotificationEvent.VULNERABILITY_FOUND,
    NotificationEvent.REPO_MIRROR_SYNC_STARTED, NotificationEvent.REPO_MIRROR_SYNC_SUCCESS, NotificationEvent.REPO_MIRROR_SYNC_FAILED,
    NotificationEvent.BUILD_QUEUED, NotificationEvent.BUILD_START, NotificationEvent.BUILD_SUCCESS,
    NotificationEvent.BUILD_FAILURE, NotificationEvent.BUILD_CANCELLED,
})
NAMESPACE_EVENTS = frozenset({NotificationEvent.QUOTA_WARNING, NotificationEvent.QUOTA_ERROR})


class NotificationMethod(models.TextChoices):
    WEBHOOK = "webhook", "Webhook POST"
    EMAIL = "email", "E-mail"
    SLACK = "slack", "Slack notification"
    QUAY_NOTIFICATION = "quay_notification", "In-app notification"


class ConfiguredNotification(models.Model):
    """What both kinds of configured notification share (Quay's notification columns)."""

    uuid = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    title = models.CharField(max_length=255, blank=True, default="")
    event = models.CharField(max_length=64, choices=NotificationEvent.choices)
    event_config = models.JSONField(default=dict, blank=True)
    method = models.CharField(max_length=32, choices=NotificationMethod.choices)
    #: the method's settings (``url``, ``email``, ``target``, ``template``); never the secret
    config = models.JSONField(default=dict, blank=True)
    #: webhook signing key (HMAC-SHA256 over the body); empty: unsigned
    secret = models.CharField(max_length=255, blank=True, default="")
    #: consecutive failed delivery attempts; reset by a success or by re-enabling
    number_of_failures = models.PositiveIntegerField(default=0)
    #: cleared after ``notifications.max_failures`` consecutive failures, set again by POST on it
    enabled = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.title or f"{self.event} via {self.method}"


class RepositoryNotification(ConfiguredNotification):
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="notifications")

    class Meta:
        ordering = ["created", "id"]
        indexes = [models.Index(fields=["repository", "event"], name="repo_notification_event_idx")]


class NamespaceNotification(ConfiguredNotification):
    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="notifications")

    class Meta:
        ordering = ["created", "id"]
        indexes = [models.Index(fields=["namespace", "event"], name="ns_notification_event_idx")]


class NotificationDelivery(models.Model):
    """One event to deliver through one notification: the outbox row the delivery task works on."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Delivered"
        FAILED = "failed", "Failed"

    uuid = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    repository_notification = models.ForeignKey(
        RepositoryNotification, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    namespace_notification = models.ForeignKey(
        NamespaceNotification, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(max_length=64)
    #: Quay's event data (what a webhook receives without a template)
    payload = models.JSONField(default=dict)
    is_test = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    #: when the next try is due (the catch-up task re-queues overdue pending deliveries)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    #: a worker holds the delivery until then while it sends (two workers never send one delivery)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name_plural = "notification deliveries"
        constraints = [
            models.CheckConstraint(
                condition=exactly_one_of("repository_notification", "namespace_notification"), name="notification_delivery_has_one_owner"
            )
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="notif_delivery_due_idx")]

    @property
    def notification(self) -> RepositoryNotification | NamespaceNotification:
        return self.repository_notification or self.namespace_notification  # type: ignore[return-value]

    def __str__(self) -> str:
        return f"{self.event} delivery {self.uuid} ({self.status})"


class NotificationDeliveryAttempt(models.Model):
    """One try of a delivery: the delivery log."""

    delivery = models.ForeignKey(NotificationDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    succeeded = models.BooleanField()
    #: the receiver's HTTP status (webhook, Slack); None when no answer came or for other methods
    http_status = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    duration_ms = models.PositiveIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created", "id"]

    def __str__(self) -> str:
        return f"{'ok' if self.succeeded else 'failed'} {self.http_status or ''} {self.error[:60]}".strip()


class UserNotification(models.Model):
    """An in-app notification (Quay's ``Notification``): for one user, or for an organization,
    where every administrator sees it."""

    uuid = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    #: the event name (``repo_push``, ``quota_warning``, ...)
    kind = models.CharField(max_length=64)
    target_user = models.ForeignKey(User, null=True, blank=True, on_delete=models.CASCADE, related_name="inbox")
    target_namespace = models.ForeignKey(Namespace, null=True, blank=True, on_delete=models.CASCADE, related_name="inbox")
    metadata = models.JSONField(default=dict, blank=True)
    dismissed = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name = "in-app notification"
        constraints = [
            models.CheckConstraint(condition=exactly_one_of("target_user", "target_namespace"), name="user_notification_has_one_target")
        ]
        indexes = [
            models.Index(fields=["target_user", "dismissed"], name="inbox_user_idx", condition=Q(target_user__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.target_user or self.target_namespace}"


class TagExpiryNotice(models.Model):
    """A ``repo_image_expiry`` notice already sent for one tag lifetime (Quay's
    ``TagNotificationSuccess``). ``tag_row_id`` is the Tag row's id, kept without a foreign key so
    garbage collection never waits on this table; notices of vanished rows are pruned."""

    notification = models.ForeignKey(RepositoryNotification, on_delete=models.CASCADE, related_name="expiry_notices")
    tag_row_id = models.BigIntegerField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["notification", "tag_row_id"], name="tag_expiry_notice_once")]

    def __str__(self) -> str:
        return f"expiry notice for tag row {self.tag_row_id}"
