"""Admin pages for pull-through proxy cache organizations: each configuration (upstream, user
name, expiry, TLS) and the cached tags with their digest, last upstream check and last pull.

Proxy caches are configured through the API (which checks the upstream against the outbound
policy and encrypts the credentials), so the admin neither adds nor edits them; deleting a
configuration here goes through ``proxy_config_delete``.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.admin import ConsoleModelAdmin
from accounts.services import principal_for_user
from repositories.admin import _request_info
from repositories.models.proxy import ProxyCacheConfig, ProxyCachedTag
from repositories.services.mirror import MirrorCredentialsError, secret_decrypt
from repositories.services.proxy import proxy_config_delete


@admin.register(ProxyCacheConfig)
class ProxyCacheConfigAdmin(ConsoleModelAdmin):
    list_display = ("organization", "upstream_registry", "expiration_s", "insecure", "cached_tags", "created")
    list_filter = ("insecure",)
    search_fields = ("organization__namespace__name", "upstream_registry")
    fields = ("organization", "upstream_registry", "upstream_username", "expiration_s", "insecure", "created")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[ProxyCacheConfig]:
        return super().get_queryset(request).select_related("organization__namespace")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="upstream user name")
    def upstream_username(self, obj: ProxyCacheConfig) -> str:
        try:
            return secret_decrypt(obj.username_encrypted) or "(anonymous)"
        except MirrorCredentialsError:
            return "(cannot decrypt: enter the credentials again)"

    @admin.display(description="cached tags")
    def cached_tags(self, obj: ProxyCacheConfig) -> int:
        return ProxyCachedTag.objects.filter(repository__namespace_id=obj.organization.namespace_id).count()

    def delete_model(self, request: HttpRequest, obj: ProxyCacheConfig) -> None:
        proxy_config_delete(organization=obj.organization, actor=principal_for_user(request.user, "session"), request=_request_info(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ProxyCacheConfig]) -> None:
        for config in queryset.select_related("organization"):
            self.delete_model(request, config)


@admin.register(ProxyCachedTag)
class ProxyCachedTagAdmin(ConsoleModelAdmin):
    list_display = ("repository", "name", "digest", "checked_at", "pulled_at")
    search_fields = ("repository__full_name", "name", "digest")
    ordering = ("pulled_at",)
    readonly_fields = ("repository", "name", "digest", "checked_at", "pulled_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[ProxyCachedTag]:
        return super().get_queryset(request).select_related("repository")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
