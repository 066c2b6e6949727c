"""Admin pages for audit-log archives and exports and for pull statistics: all read-only (rotation,
exports and pulls write them; an editable archive record or counter would prove nothing)."""

from __future__ import annotations

from django.contrib import admin
from django.template.defaultfilters import filesizeformat

from accounts.admin import ConsoleModelAdmin, ReadOnlyMixin
from repositories.models import AuditLogArchive, LogExport, ManifestPullStatistic, TagPullStatistic


@admin.register(AuditLogArchive)
class AuditLogArchiveAdmin(ReadOnlyMixin, ConsoleModelAdmin):
    list_display = ("start", "end", "count", "size_display", "location", "path", "complete", "created")
    list_filter = ("complete", "location")
    search_fields = ("path",)
    date_hierarchy = "start"
    ordering = ("-start", "-id")
    fields = ("path", "location", "start", "end", "first_id", "last_id", "count", "size", "complete", "created")
    readonly_fields = fields
    show_full_result_count = False

    @admin.display(description="size", ordering="size")
    def size_display(self, archive: AuditLogArchive) -> str:
        return filesizeformat(archive.size)


@admin.register(LogExport)
class LogExportAdmin(ReadOnlyMixin, ConsoleModelAdmin):
    list_display = ("created", "export_id", "requested_by_name", "scope", "start", "end", "state", "count", "finished")
    list_filter = ("state",)
    search_fields = ("=export_id", "requested_by_name", "repository_name", "namespace_name")
    ordering = ("-created", "-id")
    fields = (
        "export_id", "requested_by_name", "repository_name", "namespace_name", "everything", "start", "end", "state", "count", "size",
        "location", "path", "callback_url", "callback_email", "delivery", "error", "created", "finished",
    )
    readonly_fields = fields
    show_full_result_count = False

    @admin.display(description="scope")
    def scope(self, export: LogExport) -> str:
        if export.everything:
            return "(whole registry)"
        if export.repository_name:
            return export.repository_name
        if export.user_id_scope is not None:
            return f"user {export.namespace_name}"
        return export.namespace_name


class _PullStatisticAdmin(ReadOnlyMixin, ConsoleModelAdmin):
    list_filter = ("last_pulled",)
    date_hierarchy = "last_pulled"
    ordering = ("-pull_count", "id")
    list_select_related = ("repository",)
    show_full_result_count = False


@admin.register(TagPullStatistic)
class TagPullStatisticAdmin(_PullStatisticAdmin):
    list_display = ("tag_name", "repository", "pull_count", "last_pulled")
    search_fields = ("tag_name", "repository__full_name")
    fields = ("repository", "tag_name", "pull_count", "last_pulled")
    readonly_fields = fields


@admin.register(ManifestPullStatistic)
class ManifestPullStatisticAdmin(_PullStatisticAdmin):
    list_display = ("manifest_digest", "repository", "pull_count", "last_pulled")
    search_fields = ("^manifest_digest", "repository__full_name")
    fields = ("repository", "manifest_digest", "pull_count", "last_pulled")
    readonly_fields = fields
