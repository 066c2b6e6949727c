"""Admin pages for tag lifecycle and quotas: auto-prune and immutability policies, namespace
quotas with their thresholds, and the cached usage (with a "recompute" action).

Policies and quotas are created and changed through the API (which validates patterns, values and
the superuser-only quota rules, and writes the audit log), so these pages only show them.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.admin import ConsoleModelAdmin, ConsoleTabularInline, ReadOnlyMixin
from repositories.models.lifecycle import AutoPrunePolicy, ImmutabilityPolicy, NamespaceQuota, NamespaceUsage, QuotaLimit, RepositoryUsage
from repositories.services.quotas import namespace_usage_recompute


@admin.register(AutoPrunePolicy)
class AutoPrunePolicyAdmin(ReadOnlyMixin, ConsoleModelAdmin):
    list_display = ("uuid", "namespace", "repository", "method", "value", "tag_pattern", "tag_pattern_matches", "last_run")
    list_filter = ("method",)
    search_fields = ("namespace__name", "repository__full_name", "tag_pattern")
    list_select_related = ("namespace", "repository")


@admin.register(ImmutabilityPolicy)
class ImmutabilityPolicyAdmin(ReadOnlyMixin, ConsoleModelAdmin):
    list_display = ("uuid", "namespace", "repository", "tag_pattern", "tag_pattern_matches", "created")
    search_fields = ("namespace__name", "repository__full_name", "tag_pattern")
    list_select_related = ("namespace", "repository")


class QuotaLimitInline(ReadOnlyMixin, ConsoleTabularInline):
    model = QuotaLimit
    fields = ("type", "threshold_percent")
    extra = 0


@admin.register(NamespaceQuota)
class NamespaceQuotaAdmin(ReadOnlyMixin, ConsoleModelAdmin):
    list_display = ("namespace", "limit_bytes", "created")
    search_fields = ("namespace__name",)
    list_select_related = ("namespace",)
    inlines = [QuotaLimitInline]


@admin.register(NamespaceUsage)
class NamespaceUsageAdmin(ReadOnlyMixin, ConsoleModelAdmin):
    list_display = ("namespace", "size_bytes", "notified_level", "updated", "recomputed_at")
    search_fields = ("namespace__name",)
    list_select_related = ("namespace",)
    actions = ["recompute"]

    @admin.action(description="Recompute usage from the content tables")
    def recompute(self, request: HttpRequest, queryset: QuerySet[NamespaceUsage]) -> None:
        for row in queryset:
            namespace_usage_recompute(namespace_id=row.namespace_id)
        self.message_user(request, f"Recomputed {queryset.count()} namespace(s).", messages.SUCCESS)


@admin.register(RepositoryUsage)
class RepositoryUsageAdmin(ReadOnlyMixin, ConsoleModelAdmin):
    list_display = ("repository", "size_bytes", "updated")
    search_fields = ("repository__full_name",)
    list_select_related = ("repository",)
