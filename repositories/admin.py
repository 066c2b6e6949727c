"""Admin console for repositories and their content.

Content rows (blobs, manifests, tags) are written only by pushes, deletes and garbage
collection, so they are read-only here; a repository's visibility and state are changed through
the repository services.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from repositories.models import Blob, BlobPlacement, Manifest, ManifestBlob, Repository, Tag
from repositories.selectors import live_tags
from repositories.services.repositories import repository_set_state, repository_set_visibility


def _short(digest: str) -> str:
    algorithm, _, encoded = digest.partition(":")
    return f"{algorithm}:{encoded[:12]}…" if len(encoded) > 12 else digest


def _size(size: int) -> str:
    """``1536`` -> ``1.5 KiB``."""
    if size < 1024:
        return f"{size} B"
    value = size / 1024
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            break
        value /= 1024
    return f"{value:.1f} {unit}"


class ReadOnlyMixin:
    """Rows the admin may look at but never add, change or delete."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# -- repositories ------------------------------------------------------------------------------


class LiveTagInline(ReadOnlyMixin, admin.TabularInline):
    model = Tag
    fk_name = "repository"
    verbose_name_plural = "live tags"
    fields = ("name", "manifest_digest", "lifetime_start", "expires_at", "immutable")
    readonly_fields = fields
    ordering = ("name",)
    show_change_link = True
    can_delete = False
    extra = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tag]:
        return super().get_queryset(request).filter(live_tags()).select_related("manifest")

    @admin.display(description="manifest")
    def manifest_digest(self, tag: Tag) -> str:
        return tag.manifest.digest


@admin.register(Repository)
class RepositoryAdmin(admin.ModelAdmin):
    list_display = ("full_name", "visibility", "state", "tag_count", "last_modified")
    list_filter = ("visibility", "state", "namespace__kind")
    search_fields = ("full_name", "description")
    ordering = ("full_name",)
    date_hierarchy = "last_modified"
    list_select_related = ("namespace",)
    fields = ("full_name", "namespace", "visibility", "state", "description", "tags_link", "created", "last_modified")
    readonly_fields = ("full_name", "namespace", "description", "tags_link", "created", "last_modified")
    inlines = (LiveTagInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Repository]:
        now = timezone.now()
        live = Q(tags__lifetime_end__isnull=True, tags__hidden=False) & (Q(tags__expires_at__isnull=True) | Q(tags__expires_at__gt=now))
        return super().get_queryset(request).annotate(tag_count=Count("tags", filter=live))

    @admin.display(description="tags", ordering="tag_count")
    def tag_count(self, repository: Repository) -> int:
        return repository.tag_count

    @admin.display(description="tag history")
    def tags_link(self, repository: Repository) -> SafeString:
        url = reverse("admin:repositories_tag_changelist") + f"?repository__id__exact={repository.pk}"
        return format_html('<a href="{}">every tag and its history</a>', url)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # repositories are created by their first push

    def has_delete_permission(self, request: HttpRequest, obj: Repository | None = None) -> bool:
        return False  # deleting a repository must also schedule its content for collection

    def save_model(self, request: HttpRequest, obj: Repository, form: forms.ModelForm, change: bool) -> None:
        if "visibility" in form.changed_data:
            repository_set_visibility(repository=obj, visibility=form.cleaned_data["visibility"])
        if "state" in form.changed_data:
            repository_set_state(repository=obj, state=form.cleaned_data["state"])


# -- blobs -------------------------------------------------------------------------------------


class BlobPlacementInline(ReadOnlyMixin, admin.TabularInline):
    model = BlobPlacement
    fields = ("location", "created")
    readonly_fields = fields
    verbose_name_plural = "stored in"
    extra = 0


@admin.register(Blob)
class BlobAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("digest", "size_display", "locations", "created")
    search_fields = ("^digest",)
    date_hierarchy = "created"
    ordering = ("-created",)
    fields = ("digest", "size_display", "created")
    readonly_fields = fields
    inlines = (BlobPlacementInline,)
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Blob]:
        return super().get_queryset(request).prefetch_related("placements")

    @admin.display(description="size", ordering="size")
    def size_display(self, blob: Blob) -> str:
        return f"{_size(blob.size)} ({blob.size} bytes)" if blob.size >= 1024 else _size(blob.size)

    @admin.display(description="stored in")
    def locations(self, blob: Blob) -> str:
        return ", ".join(sorted(p.location for p in blob.placements.all())) or "—"


# -- manifests ---------------------------------------------------------------------------------


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("no", "No"), ("yes", "Yes")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Manifest]) -> QuerySet[Manifest]:
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


@admin.register(Manifest)
class ManifestAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("short_digest", "repository", "media_type", "size", "created", "deleted_at")
    list_filter = (DeletedFilter, "media_type")
    search_fields = ("^digest", "repository__full_name")
    date_hierarchy = "created"
    ordering = ("-created",)
    list_select_related = ("repository",)
    fields = (
        "repository",
        "digest",
        "media_type",
        "size",
        "config_media_type",
        "artifact_type",
        "subject_digest",
        "created",
        "deleted_at",
        "blobs",
        "content_pretty",
    )
    readonly_fields = fields
    show_full_result_count = False

    @admin.display(description="digest", ordering="digest")
    def short_digest(self, manifest: Manifest) -> str:
        return _short(manifest.digest)

    @admin.display(description="blobs (config and layers)")
    def blobs(self, manifest: Manifest) -> SafeString:
        links = ManifestBlob.objects.filter(manifest=manifest).select_related("blob").order_by("blob__digest")
        items = format_html_join(
            "",
            '<li><a href="{}">{}</a> ({})</li>',
            ((reverse("admin:repositories_blob_change", args=[link.blob_id]), link.blob.digest, _size(link.blob.size)) for link in links),
        )
        return format_html('<ul style="margin: 0; padding: 0">{}</ul>', items) if items else format_html("{}", "none")

    @admin.display(description="content")
    def content_pretty(self, manifest: Manifest) -> SafeString:
        raw = bytes(manifest.content)
        try:
            text = json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
        except ValueError:
            text = raw.decode("utf-8", errors="replace")
        return format_html('<pre style="white-space: pre-wrap; margin: 0">{}</pre>', text)


# -- tags --------------------------------------------------------------------------------------


class LifetimeFilter(admin.SimpleListFilter):
    title = "lifetime"
    parameter_name = "lifetime"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("live", "Live"), ("ended", "Ended (history)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Tag]) -> QuerySet[Tag]:
        if self.value() == "live":
            return queryset.filter(lifetime_end__isnull=True)
        if self.value() == "ended":
            return queryset.filter(lifetime_end__isnull=False)
        return queryset


@admin.register(Tag)
class TagAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("name", "repository", "manifest_digest", "lifetime_start", "lifetime_end", "expires_at", "immutable", "hidden")
    list_filter = (LifetimeFilter, "immutable", "hidden")
    search_fields = ("name", "repository__full_name", "^manifest__digest")
    date_hierarchy = "lifetime_start"
    ordering = ("repository__full_name", "name", "-lifetime_start")
    fields = ("repository", "name", "manifest", "lifetime_start", "lifetime_end", "expires_at", "immutable", "hidden", "reversion")
    readonly_fields = fields
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tag]:
        # Here rather than list_select_related, which the changelist ignores once a queryset has any.
        return super().get_queryset(request).select_related("repository", "manifest__repository")

    @admin.display(description="manifest", ordering="manifest__digest")
    def manifest_digest(self, tag: Tag) -> str:
        return _short(tag.manifest.digest)
