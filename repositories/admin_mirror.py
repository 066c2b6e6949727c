"""Admin pages for repository mirrors and organization mirrors: every mirror with its sync
status, last and next sync and last error (an organization mirror also with its discovered
repositories); actions "sync now" and "cancel sync" through the mirror services.

Mirrors are configured through the API (which validates the upstream against the outbound policy
and encrypts the credentials), so the admin neither adds nor edits them.
"""

from __future__ import annotations

from typing import Any, Callable

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.safestring import SafeString

from accounts.admin import ConsoleModelAdmin, ConsoleTabularInline
from accounts.services import principal_for_user
from common.errors import RegistryError
from repositories.admin import _json_pretty, _request_info
from repositories.models.mirror import OrganizationMirror, OrganizationMirrorRepository, RepositoryMirror
from repositories.selectors_mirror import mirrors_listing, org_mirrors_listing
from repositories.services.mirror import mirror_cancel, mirror_sync_now, mirror_username
from repositories.services.mirror_org import org_mirror_cancel, org_mirror_sync_now, org_mirror_username


@admin.register(RepositoryMirror)
class RepositoryMirrorAdmin(ConsoleModelAdmin):
    list_display = ("repository", "external_reference", "is_enabled", "status", "last_sync_finished_at", "next_sync_at", "short_error")
    list_filter = ("status", "is_enabled", "verify_tls")
    search_fields = ("repository__full_name", "external_reference")
    fields = (
        "repository", "external_reference", "upstream_username", "verify_tls", "tag_patterns", "architecture_filter", "delete_stale_tags",
        "sync_interval", "sync_start_date", "timeout_s", "robot", "is_enabled", "status", "next_sync_at", "retries_remaining",
        "last_sync_started_at", "last_sync_finished_at", "sync_expires_at", "last_error", "last_result_pretty", "created", "updated",
    )
    readonly_fields = fields
    actions = ("sync_now", "cancel_sync")

    def get_queryset(self, request: HttpRequest) -> QuerySet[RepositoryMirror]:
        return mirrors_listing()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # configured through the API (outbound policy check, encrypted credentials)

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="upstream user")
    def upstream_username(self, mirror: RepositoryMirror) -> str:
        return mirror_username(mirror) or "(anonymous)"

    @admin.display(description="last error")
    def short_error(self, mirror: RepositoryMirror) -> str:
        return (mirror.last_error[:120] + "…") if len(mirror.last_error) > 120 else mirror.last_error

    @admin.display(description="last result")
    def last_result_pretty(self, mirror: RepositoryMirror) -> SafeString:
        return _json_pretty(mirror.last_result)

    def _each(self, request: HttpRequest, queryset: QuerySet, service: Callable[..., Any], done: str) -> None:
        actor = principal_for_user(request.user, "session")
        ok, refused = 0, []
        for mirror in queryset:
            try:
                service(mirror=mirror, actor=actor, request=_request_info(request))
                ok += 1
            except RegistryError as exc:
                refused.append(f"{mirror.repository.full_name}: {exc.message}")
        if ok:
            self.message_user(request, f"{ok} mirror(s) {done}.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.WARNING)

    @admin.action(description="Sync now")
    def sync_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, mirror_sync_now, "will sync within 30 seconds")

    @admin.action(description="Cancel the running or requested sync")
    def cancel_sync(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, mirror_cancel, "cancelled")


class OrganizationMirrorRepositoryInline(ConsoleTabularInline):
    model = OrganizationMirrorRepository
    fields = ("upstream_name", "repository", "status", "last_sync_at", "last_seen_at", "gone_since", "last_error")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(OrganizationMirror)
class OrganizationMirrorAdmin(ConsoleModelAdmin):
    list_display = ("organization", "source", "is_enabled", "status", "repository_count", "last_sync_finished_at", "next_sync_at", "short_error")
    list_filter = ("status", "is_enabled", "delete_stale_repos")
    search_fields = ("organization__namespace__name", "external_registry_url", "external_namespace")
    fields = (
        "organization", "external_registry_url", "external_namespace", "upstream_username", "verify_tls", "repository_patterns",
        "repositories", "tag_patterns", "architecture_filter", "visibility", "delete_stale_repos", "sync_interval", "sync_start_date",
        "timeout_s", "robot", "is_enabled", "status", "next_sync_at", "last_sync_started_at", "last_sync_finished_at",
        "sync_expires_at", "last_error", "last_result_pretty", "created", "updated",
    )
    readonly_fields = fields
    inlines = (OrganizationMirrorRepositoryInline,)
    actions = ("sync_now", "cancel_sync")

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrganizationMirror]:
        return org_mirrors_listing()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # configured through the API (outbound policy check, encrypted credentials)

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="upstream")
    def source(self, org_mirror: OrganizationMirror) -> str:
        return f"{org_mirror.external_registry_url}/{org_mirror.external_namespace}".rstrip("/")

    @admin.display(description="repositories")
    def repository_count(self, org_mirror: OrganizationMirror) -> int:
        counted = getattr(org_mirror, "discovered_count", None)  # annotated by org_mirrors_listing
        return counted if counted is not None else org_mirror.discovered.count()

    @admin.display(description="upstream user")
    def upstream_username(self, org_mirror: OrganizationMirror) -> str:
        return org_mirror_username(org_mirror) or "(anonymous)"

    @admin.display(description="last error")
    def short_error(self, org_mirror: OrganizationMirror) -> str:
        return (org_mirror.last_error[:120] + "…") if len(org_mirror.last_error) > 120 else org_mirror.last_error

    @admin.display(description="last result")
    def last_result_pretty(self, org_mirror: OrganizationMirror) -> SafeString:
        return _json_pretty(org_mirror.last_result)

    def _each(self, request: HttpRequest, queryset: QuerySet, service: Callable[..., Any], done: str) -> None:
        actor = principal_for_user(request.user, "session")
        ok, refused = 0, []
        for org_mirror in queryset:
            try:
                service(org_mirror=org_mirror, actor=actor, request=_request_info(request))
                ok += 1
            except RegistryError as exc:
                refused.append(f"{org_mirror.organization.name}: {exc.message}")
        if ok:
            self.message_user(request, f"{ok} organization mirror(s) {done}.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.WARNING)

    @admin.action(description="Sync now")
    def sync_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, org_mirror_sync_now, "will sync within 30 seconds")

    @admin.action(description="Cancel the running or requested sync")
    def cancel_sync(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, org_mirror_cancel, "cancelled")
