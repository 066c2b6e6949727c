"""django-filter FilterSets for the superuser listings (on top of Quay's own parameters)."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError

from accounts.models import User
from organizations.models import Organization


class UserFilter(django_filters.FilterSet):
    query = django_filters.CharFilter(method="filter_query", max_length=255, help_text="Part of the user name or e-mail address.")
    superuser = django_filters.BooleanFilter(field_name="is_superuser", help_text="Only superusers (true) or only others (false).")
    readonly_superuser = django_filters.BooleanFilter(field_name="is_global_readonly_superuser", help_text="Only global read-only superusers (true) or only others (false).")

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
    types = {django_filters.BooleanFilter: bool, django_filters.CharFilter: str}
    return [
        OpenApiParameter(name, types.get(type(field), str), description=str(field.extra.get("help_text", "")))
        for name, field in filterset_class.base_filters.items()
    ]
