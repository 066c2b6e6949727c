"""Admin pages for image builds and build triggers.

Builds are read-only (they are requested through the API or a trigger); the "cancel" action
goes through ``build_cancel``, so a running build is stopped by its worker. Triggers show their
failure count and disabled reason; actions enable (reset the failure count) and disable. The
webhook secret is never shown.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from accounts.admin import ConsoleModelAdmin
from common.errors import RegistryError
from repositories.models.builds import BuildTrigger, RepositoryBuild
from repositories.services.build_logs import build_log_read
from repositories.services.builds import build_cancel, trigger_set_enabled

_LOG_PREVIEW = 200


@admin.register(RepositoryBuild)
class RepositoryBuildAdmin(ConsoleModelAdmin):
    list_display = ("uuid", "repository", "phase", "context_kind", "tag_list", "requested_by_name", "trigger", "created", "finished_at")
    list_filter = ("phase", "context_kind")
    search_fields = ("uuid", "repository__full_name", "requested_by_name", "git_url")
    list_select_related = ("repository", "trigger")
    fields = (
        "uuid", "repository", "phase", "cancel_requested", "requested_by_name", "context_kind", "upload", "git_url", "git_ref", "context_subdir",
        "dockerfile_path", "tags", "build_args", "pull_robot", "trigger", "trigger_metadata", "manifest_digest", "error", "created", "started_at",
        "finished_at", "log_archive_location", "log_archive_path", "log_preview",
    )
    readonly_fields = fields
    actions = ("cancel_builds",)
    ordering = ("-created",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="tags")
    def tag_list(self, build: RepositoryBuild) -> str:
        return ", ".join(build.tags or [])

    @admin.display(description="log (last entries)")
    def log_preview(self, build: RepositoryBuild) -> SafeString:
        page = build_log_read(build=build)
        entries = page.logs[-_LOG_PREVIEW:]
        link = reverse("web:build-log", args=[build.repository.full_name, build.uuid.hex])
        lines = format_html_join("\n", "{}", ((entry.get("message", ""),) for entry in entries))
        return format_html('<a href="{}">full log</a> ({} entries)<pre style="max-height:30em;overflow:auto">{}</pre>', link, page.total, lines)

    @admin.action(description="Cancel the selected builds")
    def cancel_builds(self, request: HttpRequest, queryset: QuerySet) -> None:
        cancelled, refused = 0, []
        for build in queryset.select_related("repository__namespace", "trigger", "upload"):
            try:
                build_cancel(build=build)
                cancelled += 1
            except RegistryError as exc:
                refused.append(f"{build.uuid}: {exc.message}")
        if cancelled:
            self.message_user(request, f"{cancelled} build(s) cancelled (running ones stop within seconds).", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.WARNING)


@admin.register(BuildTrigger)
class BuildTriggerAdmin(ConsoleModelAdmin):
    list_display = ("uuid", "repository", "service", "git_url", "enabled", "consecutive_failures", "disabled_reason", "created")
    list_filter = ("enabled", "service")
    search_fields = ("uuid", "repository__full_name", "git_url")
    list_select_related = ("repository",)
    fields = (
        "uuid", "repository", "service", "git_url", "default_ref", "context_subdir", "dockerfile_path", "tag_templates", "pull_robot",
        "enabled", "consecutive_failures", "disabled_reason", "disabled_at", "created_by", "created", "recent_builds",
    )
    readonly_fields = fields
    actions = ("enable_triggers", "disable_triggers")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # created through the API (the secret is shown once, there)

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="recent builds")
    def recent_builds(self, trigger: BuildTrigger) -> SafeString:
        builds = trigger.builds.order_by("-created")[:10]
        return format_html_join(
            "", '<div><a href="{}">{}</a> {}</div>',
            ((reverse("admin:repositories_repositorybuild_change", args=[b.pk]), b.uuid.hex[:12], b.phase) for b in builds),
        )  # fmt: skip

    @admin.action(description="Enable (and reset the failure count)")
    def enable_triggers(self, request: HttpRequest, queryset: QuerySet) -> None:
        for trigger in queryset:
            trigger_set_enabled(trigger=trigger, enabled=True)
        self.message_user(request, f"{queryset.count()} trigger(s) enabled.", messages.SUCCESS)

    @admin.action(description="Disable")
    def disable_triggers(self, request: HttpRequest, queryset: QuerySet) -> None:
        for trigger in queryset:
            trigger_set_enabled(trigger=trigger, enabled=False)
        self.message_user(request, f"{queryset.count()} trigger(s) disabled.", messages.SUCCESS)
