"""Admin console for organizations, their teams and default permissions ("prototypes").

Every write goes through organizations.services, like the management commands: a new organization
gets its namespace and owners team from ``organization_create``; teams change through
``team_upsert``, ``team_member_add``/``team_member_remove`` and ``team_delete``; default
permissions through ``prototype_create``/``prototype_delete``. Forms call the services'
``*_validate`` checks so a refusal shows as a form error, not a 500. Counts are subqueries, so a
list page costs a fixed number of queries however many teams, members and repositories there are.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest

from accounts.admin import ConsoleModelAdmin, ConsoleTabularInline
from accounts.models import Namespace, Robot, User
from accounts.services import validate_namespace_name
from common.errors import RegistryError
from organizations.models import Organization, Prototype, Team, TeamMember
from organizations.services import (
    OWNERS_TEAM, organization_create, prototype_create, prototype_delete, prototype_validate, team_delete, team_member_add,
    team_member_remove, team_member_validate, team_upsert, team_validate,
)


def _count(queryset: QuerySet[Any], group_by: str, counted: str = "pk", *, distinct: bool = False) -> Coalesce:
    """``COUNT`` of ``queryset`` rows per ``group_by`` as a correlated subquery (0 when none)."""
    subquery = queryset.order_by().values(group_by).annotate(n=Count(counted, distinct=distinct)).values("n")[:1]
    return Coalesce(Subquery(subquery, output_field=IntegerField()), 0)


def _form_error(error: RegistryError) -> forms.ValidationError:
    return forms.ValidationError(error.message[:1].upper() + error.message[1:] + ".")


def _add_service_error(form: forms.ModelForm, error: RegistryError, fields: dict[str, str], default: str) -> None:
    """Show a service's refusal on the field its ``detail`` names. An error on a field also keeps
    Django from re-checking the model constraints over it ("Constraint ... is violated")."""
    detail = error.detail if isinstance(error.detail, dict) else {}
    field = next((field for key, field in fields.items() if key in detail), default)
    form.add_error(field, _form_error(error))


# -- organizations -----------------------------------------------------------------------------


class OrganizationCreationForm(forms.ModelForm):
    """Name and owner of a new organization; the service creates the namespace and owners team."""

    name = forms.CharField(max_length=255, help_text="Shares one name space with users; cannot be changed later.")
    owner = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True).order_by("username"), help_text="Joins the owners team (role admin)."
    )

    class Meta:
        model = Organization
        fields = ("email",)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        try:
            validate_namespace_name(name)
        except RegistryError as error:
            raise _form_error(error) from None
        if Namespace.objects.filter(name=name).exists():
            raise forms.ValidationError("A user or organization already has this name.")
        return name


class TeamInline(ConsoleTabularInline):
    model = Team
    fields = ("name", "role", "member_count", "description")
    readonly_fields = fields
    show_change_link = True
    can_delete = False
    extra = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet[Team]:
        return super().get_queryset(request).annotate(member_count=Count("members"))

    @admin.display(description="members")
    def member_count(self, team: Team) -> int:
        return team.member_count

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Organization)
class OrganizationAdmin(ConsoleModelAdmin):
    """Organizations are added here or with ``manage.py create_org`` and never renamed."""

    list_display = ("name", "email", "team_count", "member_count", "robot_count", "repository_count", "created")
    search_fields = ("namespace__name", "email")
    ordering = ("namespace__name",)
    list_select_related = ("namespace",)
    fields = ("name", "email", "team_count", "member_count", "robot_count", "repository_count", "created")
    readonly_fields = fields
    inlines = (TeamInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Organization]:
        return super().get_queryset(request).annotate(
            team_count=_count(Team.objects.filter(organization=OuterRef("pk")), "organization"),
            member_count=_count(
                TeamMember.objects.filter(team__organization=OuterRef("pk"), user__isnull=False), "team__organization", "user", distinct=True
            ),
            robot_count=_count(Robot.objects.filter(namespace=OuterRef("namespace")), "namespace"),
            repository_count=_count(Namespace.objects.filter(pk=OuterRef("namespace")), "pk", "repositories"),
        )

    @admin.display(description="name", ordering="namespace__name")
    def name(self, organization: Organization) -> str:
        return organization.name

    @admin.display(description="teams", ordering="team_count")
    def team_count(self, organization: Organization) -> int:
        return organization.team_count

    @admin.display(description="members", ordering="member_count")
    def member_count(self, organization: Organization) -> int:
        """People in any team (robots not counted)."""
        return organization.member_count

    @admin.display(description="robots", ordering="robot_count")
    def robot_count(self, organization: Organization) -> int:
        return organization.robot_count

    @admin.display(description="repositories", ordering="repository_count")
    def repository_count(self, organization: Organization) -> int:
        return organization.repository_count

    def get_form(self, request: HttpRequest, obj: Organization | None = None, change: bool = False, **kwargs: Any) -> type[forms.ModelForm]:
        if obj is None:
            kwargs["form"] = OrganizationCreationForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Organization | None = None) -> tuple[str, ...]:
        return ("name", "owner", "email") if obj is None else self.fields

    def get_readonly_fields(self, request: HttpRequest, obj: Organization | None = None) -> tuple[str, ...]:
        return () if obj is None else self.readonly_fields

    def get_inlines(self, request: HttpRequest, obj: Organization | None) -> tuple[type[admin.TabularInline], ...]:
        return self.inlines if obj is not None else ()

    def has_change_permission(self, request: HttpRequest, obj: Organization | None = None) -> bool:
        return False  # names never change; teams are edited on their own pages

    def has_delete_permission(self, request: HttpRequest, obj: Organization | None = None) -> bool:
        return False  # deleting an organization must also schedule its repositories for collection

    def save_model(self, request: HttpRequest, obj: Organization, form: forms.ModelForm, change: bool) -> None:
        created = organization_create(name=form.cleaned_data["name"], creator=form.cleaned_data["owner"], email=form.cleaned_data["email"])
        obj.pk, obj.namespace, obj.created = created.pk, created.namespace, created.created


# -- teams -------------------------------------------------------------------------------------


class TeamForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = ("organization", "name", "role", "description")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        name = cleaned.get("name", self.instance.name)
        if name and cleaned.get("role"):
            try:
                team_validate(name=name, role=cleaned["role"])
            except RegistryError as error:
                _add_service_error(self, error, {"name": "name" if "name" in self.fields else "role"}, "role")
        return cleaned


class TeamMemberForm(forms.ModelForm):
    class Meta:
        model = TeamMember
        fields = ("user", "robot")

    def __init__(self, *args: Any, team: Team | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.team = team  # may be a team being added: not saved yet

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        user, robot = cleaned.get("user"), cleaned.get("robot")
        team = self.team
        if team is None or team.organization_id is None:
            return cleaned  # the team form itself is invalid; its errors are shown
        try:
            team_member_validate(team=team, user=user, robot=robot)
        except RegistryError as error:
            _add_service_error(self, error, {"robot": "robot"}, "user")
            return cleaned
        if team.pk is not None and TeamMember.objects.filter(team=team, user=user, robot=robot).exists():
            self.add_error("user" if user else "robot", f"{user or robot} is already a member of this team.")
        return cleaned


class TeamMemberFormSet(forms.BaseInlineFormSet):
    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        return {**super().get_form_kwargs(index), "team": self.instance}


class TeamMemberInline(ConsoleTabularInline):
    """Members are added or removed, never edited in place."""

    model = TeamMember
    form = TeamMemberForm
    formset = TeamMemberFormSet
    fields = ("user", "robot")
    extra = 1

    def get_queryset(self, request: HttpRequest) -> QuerySet[TeamMember]:
        return super().get_queryset(request).select_related("user", "robot__namespace")

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "robot":
            kwargs["queryset"] = Robot.objects.select_related("namespace")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Team)
class TeamAdmin(ConsoleModelAdmin):
    form = TeamForm
    list_display = ("name", "organization", "role", "member_count", "repository_count", "description")
    list_filter = ("role",)
    search_fields = ("name", "organization__namespace__name", "description")
    ordering = ("organization__namespace__name", "name")
    list_select_related = ("organization__namespace",)
    inlines = (TeamMemberInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Team]:
        return super().get_queryset(request).annotate(
            member_count=_count(TeamMember.objects.filter(team=OuterRef("pk")), "team"),
            repository_count=_count(Team.objects.filter(pk=OuterRef("pk")), "pk", "repository_permissions"),
        )

    @admin.display(description="members", ordering="member_count")
    def member_count(self, team: Team) -> int:
        return team.member_count

    @admin.display(description="repository grants", ordering="repository_count")
    def repository_count(self, team: Team) -> int:
        return team.repository_count

    def get_readonly_fields(self, request: HttpRequest, obj: Team | None = None) -> tuple[str, ...]:
        return ("organization", "name") if obj is not None else ()

    def has_delete_permission(self, request: HttpRequest, obj: Team | None = None) -> bool:
        return super().has_delete_permission(request, obj) and (obj is None or obj.name != OWNERS_TEAM)

    def save_model(self, request: HttpRequest, obj: Team, form: forms.ModelForm, change: bool) -> None:
        team = team_upsert(organization=obj.organization, name=obj.name, role=obj.role, description=obj.description)
        obj.pk = team.pk

    def save_formset(self, request: HttpRequest, form: forms.ModelForm, formset: Any, change: bool) -> None:
        formset.save(commit=False)  # fills new_objects and deleted_objects without writing
        team = form.instance
        for member in formset.deleted_objects:
            team_member_remove(team=team, user=member.user, robot=member.robot)
        for member in formset.new_objects:
            team_member_add(team=team, user=member.user, robot=member.robot)

    def delete_model(self, request: HttpRequest, obj: Team) -> None:
        team_delete(team=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Team]) -> None:
        # A selection holding an owners team never gets here: has_delete_permission refuses it.
        for team in queryset.select_related("organization__namespace"):
            team_delete(team=team)


# -- default permissions -----------------------------------------------------------------------


class PrototypeForm(forms.ModelForm):
    class Meta:
        model = Prototype
        fields = ("organization", "role", "delegate_user", "delegate_robot", "delegate_team", "activating_user")
        labels = {"activating_user": "only when created by"}
        help_texts = {
            "activating_user": "Empty: applies to repositories anyone creates.",
            "delegate_user": "Exactly one of user, robot and team receives the role.",
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("organization") is None or not cleaned.get("role"):
            return cleaned
        try:
            prototype_validate(
                organization=cleaned["organization"], role=cleaned["role"], delegate_user=cleaned.get("delegate_user"),
                delegate_robot=cleaned.get("delegate_robot"), delegate_team=cleaned.get("delegate_team"),
            )
        except RegistryError as error:
            _add_service_error(self, error, {"robot": "delegate_robot", "team": "delegate_team"}, "delegate_user")
        return cleaned


@admin.register(Prototype)
class PrototypeAdmin(ConsoleModelAdmin):
    """Default permissions are added or deleted (also ``manage.py default_permission``), not edited."""

    form = PrototypeForm
    list_display = ("organization", "delegate", "role", "applies_to")
    list_filter = ("role",)
    search_fields = (
        "organization__namespace__name", "delegate_user__username", "delegate_robot__shortname", "delegate_team__name",
        "activating_user__username",
    )
    ordering = ("organization__namespace__name",)
    list_select_related = (
        "organization__namespace", "delegate_user", "delegate_robot__namespace", "delegate_team__organization__namespace", "activating_user",
    )

    @admin.display(description="gets the role")
    def delegate(self, prototype: Prototype) -> str:
        if prototype.delegate_user is not None:
            return f"user {prototype.delegate_user.username}"
        if prototype.delegate_robot is not None:
            return f"robot {prototype.delegate_robot.username}"
        return f"team {prototype.delegate_team}"

    @admin.display(description="on repositories created by", ordering="activating_user__username")
    def applies_to(self, prototype: Prototype) -> str:
        return prototype.activating_user.username if prototype.activating_user else "anyone"

    def has_change_permission(self, request: HttpRequest, obj: Prototype | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Prototype, form: forms.ModelForm, change: bool) -> None:
        created = prototype_create(
            organization=obj.organization, role=obj.role, delegate_user=obj.delegate_user, delegate_robot=obj.delegate_robot,
            delegate_team=obj.delegate_team, activating_user=obj.activating_user,
        )
        obj.pk, obj.uuid = created.pk, created.uuid

    def delete_model(self, request: HttpRequest, obj: Prototype) -> None:
        prototype_delete(prototype=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Prototype]) -> None:
        for prototype in queryset:
            prototype_delete(prototype=prototype)
