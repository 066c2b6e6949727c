"""Admin console for people and names: users (Django's user admin on our user model) and the
namespaces users and organizations own."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from accounts.models import Namespace, User
from accounts.services import user_create, validate_namespace_name
from common.errors import RegistryError


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


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
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
class NamespaceAdmin(admin.ModelAdmin):
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
