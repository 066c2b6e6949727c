"""django-filter FilterSets for the superuser listings (on top of Quay's own parameters)."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError

from accounts.models import User
from organizations.models import Organization


class _SingleValueInput(forms.TextInput):
    """Hands a repeated parameter to the field as a list (to be refused) instead of its last value."""

    def value_from_datadict(self, data, files, name):  # type: ignore[no-untyped-def]
        values = data.getlist(name) if hasattr(data, "getlist") else [data.get(name)]
        return values if len(values) > 1 else data.get(name)


class _TrueFalseField(forms.Field):
    """``true`` or ``false`` (any case), as the schema documents a boolean query parameter; django-filter's
    own BooleanFilter also reads ``1``/``0`` and ignores anything else (no filter at all)."""

    widget = _SingleValueInput

    def to_python(self, value: object) -> bool | None:
        if value is None:
            return None
        if not isinstance(value, str) or value.lower() not in ("true", "false"):
            raise forms.ValidationError("Must be true or false.", code="invalid")
        return value.lower() == "true"


class BooleanFilter(django_filters.BooleanFilter):
    field_class = _TrueFalseField


class UserFilter(django_filters.FilterSet):
    query = django_filters.CharFilter(method="filter_query", max_length=255, help_text="Part of the user name or e-mail address.")
    superuser = BooleanFilter(field_name="is_superuser", help_text="Only superusers (true) or only others (false).")
    readonly_superuser = BooleanFilter(field_name="is_global_readonly_superuser", help_text="Only global read-only superusers (true) or only others (false).")

    class Meta:
        model = User
        fields: list[str] = []

    def filter_query(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(Q(username__icontains=value) | Q(email__icontains=value))


class OrganizationFilter(django_filters.FilterSet):
    query = django_filters.CharFilter(method="filter_query", max_length=255, help_text="Part of the organization name or e-mail address.")

    class Meta:
        model = Organization
        fields: list[str] = []

    def filter_query(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(Q(namespace__name__icontains=value) | Q(email__icontains=value))


def filtered(filterset_class: type[django_filters.FilterSet], params, queryset: QuerySet) -> QuerySet:
    """Apply a FilterSet; invalid filter values are a 400 with field errors."""
    filterset = filterset_class(params, queryset=queryset)
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    return filterset.qs


def schema_parameters(filterset_class: type[django_filters.FilterSet]) -> list[OpenApiParameter]:
    types = {BooleanFilter: bool, django_filters.CharFilter: str}
    return [
        OpenApiParameter(name, types.get(type(field), str), description=str(field.extra.get("help_text", "")))
        for name, field in filterset_class.base_filters.items()
    ]
