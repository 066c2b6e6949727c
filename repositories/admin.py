"""Admin console for repositories and their content, their permissions, the audit log, and
the robots and app tokens whose admin actions write audit entries.

Content rows (blobs, manifests, tags, labels, stars) are written only by pushes, deletes, garbage
collection and the API, so they are read-only here; a repository's visibility and state are changed
through the repository services, its permissions through ``repository_permission_change`` and
``repository_permission_delete``. Robots and app tokens are accounts models, registered here
because the audit log lives in this app and accounts may not import it.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from accounts.admin import ConsoleModelAdmin, ConsoleTabularInline, ReadOnlyMixin, is_global_readonly
from accounts.models import AppToken, Robot
from accounts.services import app_token_revoke, principal_for_user, robot_regenerate_token
from common.errors import RegistryError
from common.units import size_text
from repositories.models import AuditLog, Blob, BlobPlacement, GcRun, Label, Manifest, ManifestBlob, Repository, RepositoryPermission, Star, Tag
from repositories.selectors import live_tags
from repositories.services.audit import RequestInfo, audit_log
from repositories.services.gc import gc_run
from repositories.services.scans import manifest_rescan
from repositories.services.repositories import (
    permission_validate, repository_change_state, repository_change_visibility, repository_permission_change, repository_permission_delete,
)

#: how many live tags the repository page lists (a repository may have 100k; the rest are a link away)
RECENT_TAGS = 20


def _short(digest: str) -> str:
    algorithm, _, encoded = digest.partition(":")
    return f"{algorithm}:{encoded[:12]}…" if len(encoded) > 12 else digest


def _json_pretty(value: Any) -> SafeString:
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
    return format_html('<pre style="white-space: pre-wrap; margin: 0">{}</pre>', text)


def _audit(request: HttpRequest, kind: str, *, repository: Repository | None = None, namespace_name: str = "", **metadata: Any) -> None:
    """One audit entry for a change made in the admin console (never pass a secret here)."""
    audit_log(
        kind=kind, principal=principal_for_user(request.user, "session"), repository=repository, namespace_name=namespace_name,
        request=_request_info(request), metadata={"via": "admin", **metadata},
    )


def _request_info(request: HttpRequest) -> RequestInfo:
    return RequestInfo(ip=request.META.get("REMOTE_ADDR"), user_agent=request.headers.get("User-Agent", "")[:512])


# -- repositories ------------------------------------------------------------------------------


def _tag_changelist(repository: Repository, **filters: str) -> str:
    query = "&".join(f"{key}={value}" for key, value in {"repository": repository.pk, **filters}.items())
    return f"{reverse('admin:repositories_tag_changelist')}?{query}"


@admin.register(Repository)
class RepositoryAdmin(ConsoleModelAdmin):
    """No tag inline: a repository may hold 100k tags. The page shows the live-tag count, the most
    recently pushed live tags and links to the tag list filtered by the repository."""

    list_display = ("full_name", "visibility", "state", "tag_count", "last_modified")
    list_filter = ("visibility", "state", "namespace__kind")
    search_fields = ("full_name", "description")
    ordering = ("full_name",)
    date_hierarchy = "last_modified"
    list_select_related = ("namespace",)
    fields = ("full_name", "namespace", "visibility", "state", "description", "live_tags", "recent_tags", "created", "last_modified")
    readonly_fields = ("full_name", "namespace", "description", "live_tags", "recent_tags", "created", "last_modified")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Repository]:
        now = timezone.now()
        live = Q(tags__lifetime_end__isnull=True, tags__hidden=False) & (Q(tags__expires_at__isnull=True) | Q(tags__expires_at__gt=now))
        return super().get_queryset(request).annotate(tag_count=Count("tags", filter=live))

    @admin.display(description="tags", ordering="tag_count")
    def tag_count(self, repository: Repository) -> int:
        return repository.tag_count

    @admin.display(description="live tags")
    def live_tags(self, repository: Repository) -> SafeString:
        return format_html(
            '<a href="{}">{} live tag{}</a> · <a href="{}">every tag and its history</a>',
            _tag_changelist(repository, lifetime="live"), repository.tag_count, "" if repository.tag_count == 1 else "s",
            _tag_changelist(repository),
        )

    @admin.display(description=f"latest {RECENT_TAGS} pushed")
    def recent_tags(self, repository: Repository) -> SafeString:
        tags = Tag.objects.filter(live_tags(), repository=repository).select_related("manifest").order_by("-lifetime_start", "-pk")
        tags = tags[:RECENT_TAGS]
        items = format_html_join(
            "",
            '<li><a href="{}">{}</a> → {} (pushed {})</li>',
            (
                (
                    reverse("admin:repositories_tag_change", args=[t.pk]), t.name, _short(t.manifest.digest),
                    f"{timezone.localtime(t.lifetime_start):%Y-%m-%d %H:%M}",
                )
                for t in tags
            ),
        )
        return format_html('<ul style="margin: 0; padding: 0">{}</ul>', items) if items else format_html("{}", "none")

    actions = ["collect_garbage", "make_read_only", "make_normal"]

    @admin.action(description="Set the selected repositories read-only", permissions=["change"])
    def make_read_only(self, request: HttpRequest, queryset: QuerySet[Repository]) -> None:
        self._set_state(request, queryset, Repository.State.READ_ONLY, from_states=(Repository.State.NORMAL,))

    @admin.action(description="Set the selected read-only repositories back to normal", permissions=["change"])
    def make_normal(self, request: HttpRequest, queryset: QuerySet[Repository]) -> None:
        self._set_state(request, queryset, Repository.State.NORMAL, from_states=(Repository.State.READ_ONLY,))

    def _set_state(self, request: HttpRequest, queryset: QuerySet[Repository], state: str, *, from_states: tuple[str, ...]) -> None:
        """Through ``repository_change_state`` (audited ``change_repo_state``). Mirrors are left
        alone both ways: a mirror stops being one on its own page, deliberately."""
        actor, info = principal_for_user(request.user, "session"), _request_info(request)
        changed, skipped = [], []
        for repository in queryset.select_related("namespace").order_by("full_name"):
            if repository.state not in from_states:
                skipped.append(f"{repository.full_name} ({repository.get_state_display().lower()})")
                continue
            repository_change_state(repository=repository, state=state, actor=actor, request=info)
            changed.append(repository.full_name)
        label = Repository.State(state).label.lower()
        if changed:
            self.message_user(request, f"Set {len(changed)} repositor{'ies' if len(changed) != 1 else 'y'} {label}: {', '.join(changed)}.", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"Left unchanged: {', '.join(skipped)}.", messages.INFO)

    @admin.action(description="Run garbage collection for the selected repositories", permissions=["gc"])
    def collect_garbage(self, request: HttpRequest, queryset: QuerySet[Repository]) -> None:
        for repository in queryset.select_related("namespace"):
            report = gc_run(repository=repository, trigger=GcRun.Trigger.ADMIN)
            self.message_user(
                request,
                f"Garbage collection of {repository.full_name}: {report.tags_deleted} tag(s), {report.manifests_deleted} manifest(s) "
                f"deleted of {report.manifests_examined}; blobs left unused go with the next registry-wide run.",
                messages.SUCCESS if not report.errors else messages.WARNING,
            )

    def has_gc_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser  # global read-only superusers see, never collect

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # repositories are created by their first push

    def has_delete_permission(self, request: HttpRequest, obj: Repository | None = None) -> bool:
        return False  # deleting a repository must also schedule its content for collection

    def save_model(self, request: HttpRequest, obj: Repository, form: forms.ModelForm, change: bool) -> None:
        actor, info = principal_for_user(request.user, "session"), _request_info(request)
        if "visibility" in form.changed_data:
            repository_change_visibility(repository=obj, visibility=form.cleaned_data["visibility"], actor=actor, request=info)
        if "state" in form.changed_data:
            repository_change_state(repository=obj, state=form.cleaned_data["state"], actor=actor, request=info)


# -- blobs -------------------------------------------------------------------------------------


class BlobPlacementInline(ReadOnlyMixin, ConsoleTabularInline):
    model = BlobPlacement
    fields = ("location", "created")
    readonly_fields = fields
    verbose_name_plural = "stored in"
    extra = 0


@admin.register(Blob)
class BlobAdmin(ReadOnlyMixin, ConsoleModelAdmin):
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
        return f"{size_text(blob.size)} ({blob.size} bytes)" if blob.size >= 1024 else size_text(blob.size)

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
class ManifestAdmin(ReadOnlyMixin, ConsoleModelAdmin):
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
    actions = ["rescan"]

    def has_rescan_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser  # global read-only superusers see, never rescan

    @admin.action(description="Rescan the selected manifests for vulnerabilities", permissions=["rescan"])
    def rescan(self, request: HttpRequest, queryset: QuerySet[Manifest]) -> None:
        count = 0
        for manifest_id in queryset.values_list("id", flat=True):
            manifest_rescan(manifest_id=manifest_id)
            count += 1
        self.message_user(request, f"Queued {count} manifest(s) for a rescan; the scan workers pick them up.", messages.SUCCESS)

    @admin.display(description="digest", ordering="digest")
    def short_digest(self, manifest: Manifest) -> str:
        return _short(manifest.digest)

    @admin.display(description="blobs (config and layers)")
    def blobs(self, manifest: Manifest) -> SafeString:
        links = ManifestBlob.objects.filter(manifest=manifest).select_related("blob").order_by("blob__digest")
        items = format_html_join(
            "",
            '<li><a href="{}">{}</a> ({})</li>',
            ((reverse("admin:repositories_blob_change", args=[link.blob_id]), link.blob.digest, size_text(link.blob.size)) for link in links),
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
        return [("live", "Live (what clients see)"), ("ended", "Ended (history)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Tag]) -> QuerySet[Tag]:
        if self.value() == "live":
            return queryset.filter(live_tags())  # the rows the repository's tag count counts
        if self.value() == "ended":
            return queryset.filter(lifetime_end__isnull=False)
        return queryset


class RepositoryFilter(admin.SimpleListFilter):
    """``?repository=<id>``, the link from a repository's page. Offers only the chosen repository
    (listing every repository as a choice would not scale) so the sidebar shows and clears it."""

    title = "repository"
    parameter_name = "repository"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        value = self.value()
        if not value:
            return []
        if not value.isdigit():
            raise IncorrectLookupParameters(f"repository={value!r} is not a repository id")
        return [(str(pk), name) for pk, name in Repository.objects.filter(pk=int(value)).values_list("pk", "full_name")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(repository_id=int(value)) if value else queryset


@admin.register(Tag)
class TagAdmin(ReadOnlyMixin, ConsoleModelAdmin):
    list_display = ("name", "repository", "manifest_digest", "lifetime_start", "lifetime_end", "expires_at", "immutable", "hidden")
    list_filter = (RepositoryFilter, LifetimeFilter, "immutable", "hidden")
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


# -- labels and stars --------------------------------------------------------------------------


@admin.register(Label)
class LabelAdmin(ReadOnlyMixin, ConsoleModelAdmin):
    list_display = ("key", "value", "manifest_digest", "repository", "source", "media_type", "created")
    list_filter = ("source",)
    search_fields = ("key", "value", "manifest__repository__full_name")
    ordering = ("-created", "-id")
    fields = ("manifest", "repository", "key", "value", "media_type", "source", "uuid", "created")
    readonly_fields = fields
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Label]:
        return super().get_queryset(request).select_related("manifest__repository")

    @admin.display(description="manifest", ordering="manifest__digest")
    def manifest_digest(self, label: Label) -> str:
        return _short(label.manifest.digest)

    @admin.display(description="repository", ordering="manifest__repository__full_name")
    def repository(self, label: Label) -> str:
        return label.manifest.repository.full_name


@admin.register(Star)
class StarAdmin(ReadOnlyMixin, ConsoleModelAdmin):
    list_display = ("user", "repository", "created")
    list_filter = (RepositoryFilter,)
    search_fields = ("user__username", "repository__full_name")
    ordering = ("-created",)
    fields = ("user", "repository", "created")
    readonly_fields = fields
    list_select_related = ("user", "repository")
    show_full_result_count = False


# -- repository permissions --------------------------------------------------------------------


class RepositoryPermissionForm(forms.ModelForm):
    class Meta:
        model = RepositoryPermission
        fields = ("repository", "user", "robot", "team", "role")
        help_texts = {"user": "Exactly one of user, robot and team receives the role."}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        instance = self.instance
        repository = cleaned.get("repository", instance.repository if instance.pk else None)
        if repository is None or not cleaned.get("role"):
            return cleaned  # a required field is missing; its own error is shown
        grantee = {name: cleaned.get(name, getattr(instance, name)) for name in ("user", "robot", "team")}
        try:
            permission_validate(repository=repository, role=cleaned["role"], **grantee)
        except RegistryError as error:
            detail = error.detail if isinstance(error.detail, dict) else {}
            field = next((name for name in ("robot", "team", "user") if name in detail and name in self.fields), None)
            self.add_error(field, error.message[:1].upper() + error.message[1:] + ".")
            return cleaned
        if instance.pk is None and RepositoryPermission.objects.filter(repository=repository, **grantee).exists():
            holder = next(g for g in grantee.values() if g)
            self.add_error(None, f"{holder} already has a role on {repository}; change that permission instead.")
        return cleaned


@admin.register(RepositoryPermission)
class RepositoryPermissionAdmin(ConsoleModelAdmin):
    """Direct grants on one repository. The repository and grantee of a grant never change: only
    its role; every write is audited (``change_repo_permission``, ``delete_repo_permission``)."""

    form = RepositoryPermissionForm
    list_display = ("repository", "grantee_display", "role")
    list_filter = ("role",)
    search_fields = ("repository__full_name", "user__username", "robot__shortname", "team__name")
    ordering = ("repository__full_name", "id")
    autocomplete_fields = ("repository", "user", "robot", "team")
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[RepositoryPermission]:
        return super().get_queryset(request).select_related(
            "repository__namespace", "user", "robot__namespace", "team__organization__namespace"
        )

    @admin.display(description="grantee")
    def grantee_display(self, permission: RepositoryPermission) -> str:
        if permission.user is not None:
            return f"user {permission.user.username}"
        if permission.robot is not None:
            return f"robot {permission.robot.username}"
        return f"team {permission.team}"

    def get_readonly_fields(self, request: HttpRequest, obj: RepositoryPermission | None = None) -> tuple[str, ...]:
        return ("repository", "user", "robot", "team") if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: RepositoryPermission, form: forms.ModelForm, change: bool) -> None:
        saved = repository_permission_change(
            repository=obj.repository, role=obj.role, user=obj.user, robot=obj.robot, team=obj.team,
            actor=principal_for_user(request.user, "session"), request=_request_info(request),
        )
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: RepositoryPermission) -> None:
        repository_permission_delete(
            repository=obj.repository, user=obj.user, robot=obj.robot, team=obj.team,
            actor=principal_for_user(request.user, "session"), request=_request_info(request),
        )

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[RepositoryPermission]) -> None:
        for permission in queryset.select_related("repository__namespace", "user", "robot__namespace", "team__organization"):
            self.delete_model(request, permission)


# -- audit log ---------------------------------------------------------------------------------


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyMixin, ConsoleModelAdmin):
    """Written only by audit_log; an entry that could be edited here would prove nothing."""

    list_display = ("created", "kind", "performer", "namespace_name", "repository_name", "ip")
    list_filter = ("kind", "created")
    search_fields = ("performer_name", "repository_name")
    date_hierarchy = "created"
    ordering = ("-created", "-id")
    fields = (
        "created", "kind", "performer_name", "performer_user", "performer_robot", "namespace_name", "repository_name", "repository", "ip",
        "user_agent", "metadata_pretty",
    )
    readonly_fields = fields
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditLog]:
        return super().get_queryset(request).select_related("performer_robot__namespace")

    @admin.display(description="performer", ordering="performer_name")
    def performer(self, entry: AuditLog) -> str:
        return entry.performer_name or "(anonymous)"

    @admin.display(description="metadata")
    def metadata_pretty(self, entry: AuditLog) -> SafeString:
        return _json_pretty(entry.metadata)


# -- garbage collection ------------------------------------------------------------------------


@admin.register(GcRun)
class GcRunAdmin(ReadOnlyMixin, ConsoleModelAdmin):
    """Every garbage-collection run: what it examined, deleted and reclaimed, and what failed."""

    list_display = ("started", "status", "trigger", "scope_shown", "manifests_deleted", "blobs_deleted", "reclaimed", "duration")
    list_filter = ("status", "trigger", "dry_run")
    date_hierarchy = "started"
    ordering = ("-started", "-id")
    fields = (
        "started", "finished", "status", "trigger", "scope", "tags_examined", "tags_deleted", "manifests_examined",
        "manifests_deleted", "blobs_examined", "blobs_deleted", "uploads_deleted", "reclaimed", "errors_pretty",
    )
    readonly_fields = fields

    @admin.display(description="scope", ordering="scope")
    def scope_shown(self, run: GcRun) -> str:
        return run.scope or "whole registry"

    @admin.display(description="reclaimed", ordering="bytes_reclaimed")
    def reclaimed(self, run: GcRun) -> str:
        return size_text(run.bytes_reclaimed)

    @admin.display(description="duration")
    def duration(self, run: GcRun) -> str:
        return "running" if run.duration_s is None else f"{run.duration_s:.1f} s"

    @admin.display(description="errors")
    def errors_pretty(self, run: GcRun) -> SafeString:
        return _json_pretty(run.errors)


# -- robots and app tokens ---------------------------------------------------------------------


@admin.register(Robot)
class RobotAdmin(ReadOnlyMixin, ConsoleModelAdmin):
    """Robots are created with ``manage.py create_robot`` or the API. Their token is stored only as
    a hash: "Regenerate token" replaces it and shows the new one once."""

    list_display = ("name", "namespace", "description", "created", "last_used")
    search_fields = ("shortname", "namespace__name", "description")
    list_filter = ("namespace__kind",)
    ordering = ("namespace__name", "shortname")
    list_select_related = ("namespace",)
    fields = ("name", "namespace", "shortname", "description", "token_prefix", "created", "last_used")
    readonly_fields = fields
    actions = ("regenerate_token",)
    show_full_result_count = False

    @admin.display(description="name", ordering="shortname")
    def name(self, robot: Robot) -> str:
        return robot.username

    def has_regenerate_permission(self, request: HttpRequest) -> bool:
        # ReadOnlyMixin refuses "change" (no field is editable), so the action has its own permission.
        return not is_global_readonly(request) and request.user.has_perm("accounts.change_robot")

    @admin.action(description="Regenerate token of selected robots", permissions=("regenerate",))
    def regenerate_token(self, request: HttpRequest, queryset: QuerySet[Robot]) -> None:
        for robot in queryset.select_related("namespace").order_by("namespace__name", "shortname"):
            with transaction.atomic():
                regenerated = robot_regenerate_token(robot=robot)
                _audit(request, "regenerate_robot_token", namespace_name=robot.namespace.name, robot=robot.shortname)
            self.message_user(
                request,
                format_html(
                    "New token for {}: <code>{}</code> — copy it now, it is not shown again; the old token no longer works.",
                    robot.username, regenerated.token,
                ),
                messages.WARNING,
            )


@admin.register(AppToken)
class AppTokenAdmin(ConsoleModelAdmin):
    """App tokens are created by their user (API or ``manage.py create_app_token``); the console
    lists and revokes them. Deleting one is revoking it."""

    list_display = ("title", "user", "created", "expires_at", "last_used")
    search_fields = ("title", "user__username")
    ordering = ("-created",)
    list_select_related = ("user",)
    fields = ("title", "user", "token_prefix", "created", "expires_at", "last_used")
    readonly_fields = fields
    actions = ("revoke_tokens",)
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AppToken | None = None) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # "Revoke selected tokens" is the same, audited
        return actions

    @admin.action(description="Revoke selected tokens", permissions=("delete",))
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[AppToken]) -> None:
        tokens = list(queryset.select_related("user"))
        for token in tokens:
            self.delete_model(request, token)
        self.message_user(request, f"Revoked {len(tokens)} app token{'s' if len(tokens) != 1 else ''}.", messages.SUCCESS)

    def delete_model(self, request: HttpRequest, obj: AppToken) -> None:
        title, username = obj.title, obj.user.username
        with transaction.atomic():
            app_token_revoke(app_token=obj)
            _audit(request, "revoke_app_specific_token", namespace_name=username, app_specific_token_title=title, user=username)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[AppToken]) -> None:
        for token in queryset.select_related("user"):
            self.delete_model(request, token)

# Admin pages of the other model modules (repositories/models/*.py).
from repositories import admin_builds, admin_dashboard, admin_lifecycle, admin_logs, admin_mirror, admin_notifications, admin_proxy, admin_security, admin_storage  # noqa: E402,F401
