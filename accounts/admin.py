"""Admin console for people, names and credentials: users (Django's user admin on our user model),
the namespaces users and organizations own, signing keys and banner messages.

``GlobalReadOnlyMixin`` is the console's one rule for global read-only superusers: every
ModelAdmin and inline of the project inherits it (tests/admin checks that none is missing). Robots
and app tokens are registered in repositories/admin.py, next to the audit log their actions write to.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from accounts.models import BannerMessage, Namespace, SigningKey, User
from accounts.services import (
    BANNER_MEDIA_TYPES, banner_message_create, banner_message_delete, user_create, user_set_enabled, validate_namespace_name,
)
from common.errors import RegistryError


def is_global_readonly(request: HttpRequest) -> bool:
    """Whether the console user is a global read-only superuser (a real superuser keeps full rights)."""
    user = request.user
    return bool(user.is_active and user.is_staff and getattr(user, "is_global_readonly_superuser", False) and not user.is_superuser)


class GlobalReadOnlyMixin:
    """For every ModelAdmin and inline: a global read-only superuser may view every page, and may
    add, change or delete nothing and run no action. Everyone else gets Django's own permissions."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_global_readonly(request) or super().has_module_permission(request)  # type: ignore[misc]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_global_readonly(request) or super().has_view_permission(request, obj)  # type: ignore[misc]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return not is_global_readonly(request) and super().has_add_permission(request, *args)  # type: ignore[misc]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not is_global_readonly(request) and super().has_change_permission(request, obj)  # type: ignore[misc]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not is_global_readonly(request) and super().has_delete_permission(request, obj)  # type: ignore[misc]

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return {} if is_global_readonly(request) else super().get_actions(request)  # type: ignore[misc]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        # A changelist POST runs an action or saves list_editable rows: writes either way.
        if request.method == "POST" and is_global_readonly(request):
            raise PermissionDenied
        return super().changelist_view(request, extra_context)  # type: ignore[misc]


class ReadOnlyMixin:
    """Rows the admin may look at but never add, change or delete (put it before the base class)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ConsoleModelAdmin(GlobalReadOnlyMixin, admin.ModelAdmin):
    """The base of every ModelAdmin in the project."""


class ConsoleTabularInline(GlobalReadOnlyMixin, admin.TabularInline):
    """The base of every inline in the project."""


class MoorageUserCreationForm(AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("username", "email")

    def clean_username(self) -> str:
        username = super().clean_username()
        # The username is also the user's namespace, so it follows the repository-name grammar.
        try:
            validate_namespace_name(username)
        except RegistryError as error:
            raise forms.ValidationError(error.message) from None
        if Namespace.objects.filter(name=username).exists():
            raise forms.ValidationError("A user or organization already has this name.")
        return username


class MoorageUserChangeForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User


# Django's own group admin, with the console's rule for read-only superusers.
admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(GlobalReadOnlyMixin, DjangoGroupAdmin):
    """Django permission groups: they decide who may do what in this console, nothing else
    (registry access is decided by repositories.access)."""


@admin.register(User)
class UserAdmin(GlobalReadOnlyMixin, DjangoUserAdmin):
    form = MoorageUserChangeForm
    add_form = MoorageUserCreationForm
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("username", "email", "usable_password", "password1", "password2")}),)
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("Registry", {"fields": ("namespace", "is_global_readonly_superuser")}),
    )
    readonly_fields = ("namespace", "last_login", "date_joined")
    list_display = ("username", "email", "namespace", "is_active", "is_staff", "is_superuser", "is_global_readonly_superuser", "last_login")
    list_filter = ("is_active", "is_staff", "is_superuser", "is_global_readonly_superuser")
    list_select_related = ("namespace",)
    actions = ("disable_users", "enable_users")

    @admin.action(description="Disable selected users", permissions=("change",))
    def disable_users(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        self._set_enabled(request, queryset, enabled=False)

    @admin.action(description="Enable selected users", permissions=("change",))
    def enable_users(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        self._set_enabled(request, queryset, enabled=True)

    def _set_enabled(self, request: HttpRequest, queryset: QuerySet[User], *, enabled: bool) -> None:
        changed = []
        for user in queryset.order_by("username"):
            if not enabled and user.pk == request.user.pk:
                self.message_user(request, "You cannot disable your own account.", messages.WARNING)
                continue
            if user.is_active != enabled:
                user_set_enabled(user=user, enabled=enabled)
                changed.append(user.username)
        verb = "Enabled" if enabled else "Disabled"
        if changed:
            plural = "s" if len(changed) != 1 else ""
            self.message_user(request, f"{verb} {len(changed)} user{plural}: {', '.join(changed)}.", messages.SUCCESS)
        else:
            self.message_user(request, f"No user needed to be {verb.lower()}.", messages.INFO)

    def save_model(self, request: HttpRequest, obj: User, form: forms.ModelForm, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        # A new user gets their personal namespace: created by the accounts service, not here.
        password = form.cleaned_data.get("password1") if form.cleaned_data.get("set_usable_password", True) else None
        created = user_create(username=obj.username, password=password or None, email=obj.email)
        obj.pk = created.pk
        obj.refresh_from_db()


@admin.register(Namespace)
class NamespaceAdmin(ConsoleModelAdmin):
    """Names are created with their user or organization and never renamed: read-only here."""

    list_display = ("name", "kind", "repository_count", "created")
    list_filter = ("kind",)
    search_fields = ("name",)
    ordering = ("name",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Namespace]:
        return super().get_queryset(request).annotate(repository_count=Count("repositories"))

    @admin.display(description="repositories", ordering="repository_count")
    def repository_count(self, namespace: Namespace) -> str:
        url = reverse("admin:repositories_repository_changelist") + f"?namespace__id__exact={namespace.pk}"
        return format_html('<a href="{}">{}</a>', url, namespace.repository_count)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Namespace | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Namespace | None = None) -> bool:
        return False


# -- signing keys ------------------------------------------------------------------------------


@admin.register(SigningKey)
class SigningKeyAdmin(ReadOnlyMixin, ConsoleModelAdmin):
    """Keys are created and rotated by the token service and the beat schedule. The private key is
    never shown: it is not in ``fields`` and no method reads it."""

    list_display = ("kid", "status", "created", "retire_at", "expires_at")
    ordering = ("-created",)
    fields = ("kid", "status", "created", "retire_at", "expires_at", "public_key")
    readonly_fields = fields
    search_fields = ("^kid",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[SigningKey]:
        return super().get_queryset(request).defer("private_key_pem")

    @admin.display(description="status")
    def status(self, key: SigningKey) -> str:
        now = timezone.now()
        if key.expires_at <= now:
            return "expired"
        return "signing" if key.retire_at > now else "verifying only"

    @admin.display(description="public key")
    def public_key(self, key: SigningKey) -> SafeString:
        return format_html('<pre style="margin: 0">{}</pre>', key.public_key_pem)


# -- banner messages ---------------------------------------------------------------------------


class BannerMessageForm(forms.ModelForm):
    media_type = forms.ChoiceField(choices=[(t, t) for t in BANNER_MEDIA_TYPES], initial="text/markdown")

    class Meta:
        model = BannerMessage
        fields = ("content", "media_type", "severity")


@admin.register(BannerMessage)
class BannerMessageAdmin(ConsoleModelAdmin):
    """Messages every user sees (Quay's global messages): added or deleted, never edited."""

    form = BannerMessageForm
    list_display = ("severity", "preview", "media_type", "created")
    list_filter = ("severity",)
    ordering = ("-created",)
    fields = ("content", "media_type", "severity", "created")
    readonly_fields = ("created",)

    @admin.display(description="content")
    def preview(self, message: BannerMessage) -> str:
        return message.content if len(message.content) <= 80 else message.content[:79] + "…"

    def get_readonly_fields(self, request: HttpRequest, obj: BannerMessage | None = None) -> tuple[str, ...]:
        return self.readonly_fields if obj is None else self.fields

    def has_change_permission(self, request: HttpRequest, obj: BannerMessage | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: BannerMessage, form: forms.ModelForm, change: bool) -> None:
        # The form's required content and its choices keep out everything the service refuses.
        created = banner_message_create(content=obj.content, media_type=obj.media_type, severity=obj.severity)
        obj.pk, obj.uuid, obj.created = created.pk, created.uuid, created.created

    def delete_model(self, request: HttpRequest, obj: BannerMessage) -> None:
        banner_message_delete(message=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[BannerMessage]) -> None:
        for message in queryset:
            banner_message_delete(message=message)
