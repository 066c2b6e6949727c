"""Admin pages for notifications: configured repository and namespace notifications with their
recent deliveries inline, the delivery log with every attempt, and the in-app notifications.

Notifications are created through the API (which validates the method and checks URLs against
the outbound policy), so the admin does not add or edit them; it deletes them, re-enables them
(resetting the failure count) and queues test deliveries, through the notification services.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from accounts.admin import ConsoleModelAdmin, ConsoleTabularInline, ReadOnlyMixin
from accounts.services import principal_for_user
from repositories.admin import _json_pretty, _request_info
from repositories.models.notifications import (
    NamespaceNotification,
    NotificationDelivery,
    NotificationDeliveryAttempt,
    RepositoryNotification,
    UserNotification,
)
from repositories.services.notifications import notification_delete, notification_reset, notification_test

#: deliveries shown on a notification's page (the full log is a link away)
RECENT_DELIVERIES = 20


class DeliveryInline(ReadOnlyMixin, ConsoleTabularInline):
    model = NotificationDelivery
    fields = ("link", "event", "status", "attempts", "is_test", "last_error", "created", "finished")
    readonly_fields = fields
    extra = 0
    show_change_link = False
    verbose_name_plural = f"latest {RECENT_DELIVERIES} deliveries"

    def get_queryset(self, request: HttpRequest) -> QuerySet[NotificationDelivery]:
        queryset = super().get_queryset(request).order_by("-created", "-id")
        match = getattr(request, "resolver_match", None)
        object_id = match.kwargs.get("object_id") if match else None
        if object_id is None:
            return queryset.none()
        ids = list(queryset.filter(**{f"{self.fk_name}_id": object_id}).values_list("pk", flat=True)[:RECENT_DELIVERIES])
        return queryset.filter(pk__in=ids)

    @admin.display(description="delivery")
    def link(self, delivery: NotificationDelivery) -> SafeString:
        return format_html('<a href="{}">{}</a>', reverse("admin:repositories_notificationdelivery_change", args=[delivery.pk]), str(delivery.uuid)[:8])


class RepositoryDeliveryInline(DeliveryInline):
    fk_name = "repository_notification"


class NamespaceDeliveryInline(DeliveryInline):
    fk_name = "namespace_notification"


class NotificationAdminBase(ConsoleModelAdmin):
    list_filter = ("event", "method", "enabled")
    readonly_fields = (
        "uuid", "title", "event", "event_config_pretty", "method", "config_pretty", "signed", "number_of_failures", "enabled", "created", "delivery_log",
    )
    #: the NotificationDelivery field that points at this kind of notification
    delivery_field = ""
    actions = ("reenable", "send_test")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # created through the API, which validates the method and the URL

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="event config")
    def event_config_pretty(self, notification: RepositoryNotification | NamespaceNotification) -> SafeString:
        return _json_pretty(notification.event_config)

    @admin.display(description="config")
    def config_pretty(self, notification: RepositoryNotification | NamespaceNotification) -> SafeString:
        return _json_pretty(notification.config)

    @admin.display(description="delivery log")
    def delivery_log(self, notification: RepositoryNotification | NamespaceNotification) -> SafeString:
        count = notification.deliveries.count()
        link = f"{reverse('admin:repositories_notificationdelivery_changelist')}?{self.delivery_field}__id__exact={notification.pk}"
        return format_html('<a href="{}">all {} deliveries</a>', link, count)

    @admin.display(description="signed", boolean=True)
    def signed(self, notification: RepositoryNotification | NamespaceNotification) -> bool:
        return bool(notification.secret)

    @admin.action(description="Re-enable and reset the failure count")
    def reenable(self, request: HttpRequest, queryset: QuerySet) -> None:
        actor = principal_for_user(request.user, "session")
        for notification in queryset:
            notification_reset(notification=notification, actor=actor, request=_request_info(request))
        self.message_user(request, f"{len(queryset)} notification(s) re-enabled.", messages.SUCCESS)

    @admin.action(description="Send a test delivery")
    def send_test(self, request: HttpRequest, queryset: QuerySet) -> None:
        for notification in queryset:
            notification_test(notification=notification)
        self.message_user(request, f"{len(queryset)} test delivery(ies) queued; see the delivery log.", messages.SUCCESS)

    def delete_model(self, request: HttpRequest, obj: RepositoryNotification | NamespaceNotification) -> None:
        notification_delete(notification=obj, actor=principal_for_user(request.user, "session"), request=_request_info(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for notification in queryset:
            self.delete_model(request, notification)


@admin.register(RepositoryNotification)
class RepositoryNotificationAdmin(NotificationAdminBase):
    list_display = ("__str__", "repository", "event", "method", "enabled", "number_of_failures", "created")
    search_fields = ("repository__full_name", "title")
    list_select_related = ("repository",)
    fields = ("repository", *NotificationAdminBase.readonly_fields)
    readonly_fields = ("repository", *NotificationAdminBase.readonly_fields)
    inlines = (RepositoryDeliveryInline,)
    delivery_field = "repository_notification"


@admin.register(NamespaceNotification)
class NamespaceNotificationAdmin(NotificationAdminBase):
    list_display = ("__str__", "namespace", "event", "method", "enabled", "number_of_failures", "created")
    search_fields = ("namespace__name", "title")
    list_select_related = ("namespace",)
    fields = ("namespace", *NotificationAdminBase.readonly_fields)
    readonly_fields = ("namespace", *NotificationAdminBase.readonly_fields)
    inlines = (NamespaceDeliveryInline,)
    delivery_field = "namespace_notification"


class AttemptInline(ReadOnlyMixin, ConsoleTabularInline):
    model = NotificationDeliveryAttempt
    fields = ("created", "succeeded", "http_status", "error", "duration_ms")
    readonly_fields = fields
    extra = 0
    verbose_name_plural = "attempts"


@admin.register(NotificationDelivery)
class NotificationDeliveryAdmin(ReadOnlyMixin, ConsoleModelAdmin):
    list_display = ("uuid", "event", "owner", "status", "attempts", "is_test", "created", "finished")
    list_filter = ("status", "event", "is_test")
    search_fields = ("=uuid", "repository_notification__repository__full_name", "namespace_notification__namespace__name")
    date_hierarchy = "created"
    list_select_related = ("repository_notification__repository", "namespace_notification__namespace")
    fields = ("uuid", "owner", "event", "status", "attempts", "is_test", "next_attempt_at", "last_error", "payload_pretty", "created", "finished")
    readonly_fields = fields
    inlines = (AttemptInline,)
    show_full_result_count = False

    @admin.display(description="notification")
    def owner(self, delivery: NotificationDelivery) -> str:
        if delivery.repository_notification_id:
            notification = delivery.repository_notification
            return f"{notification.repository} · {notification}"  # type: ignore[union-attr]
        return f"{delivery.namespace_notification.namespace} · {delivery.namespace_notification}"  # type: ignore[union-attr]

    @admin.display(description="payload")
    def payload_pretty(self, delivery: NotificationDelivery) -> SafeString:
        return _json_pretty(delivery.payload)


@admin.register(UserNotification)
class UserNotificationAdmin(ReadOnlyMixin, ConsoleModelAdmin):
    list_display = ("kind", "target_user", "target_namespace", "dismissed", "created")
    list_filter = ("kind", "dismissed")
    search_fields = ("target_user__username", "target_namespace__name")
    list_select_related = ("target_user", "target_namespace")
    fields = ("uuid", "kind", "target_user", "target_namespace", "dismissed", "metadata_pretty", "created")
    readonly_fields = fields

    @admin.display(description="metadata")
    def metadata_pretty(self, note: UserNotification) -> SafeString:
        return _json_pretty(note.metadata)
