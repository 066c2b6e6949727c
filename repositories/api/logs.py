"""Audit logs (Quay's ``logs.py``): ``.../logs`` pages of entries and ``.../aggregatelogs`` counts
per day and kind, for one repository (its admins), one organization (its admins), the signed-in
user (their own) and the whole registry (superusers).

Filters: ``starttime``/``endtime`` as Quay's ``MM/DD/YYYY`` (the end day included) or ISO 8601,
``performer`` (a user or robot name); pages with Quay's opaque ``next_page`` token.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.authentication import principal_of
from accounts.api.permissions import IsSuperuser, IsUser
from accounts.models import Namespace
from accounts.principals import Principal
from common import serializers
from organizations.models import Role, Team
from organizations.selectors import organization_role_of
from repositories.access import Action, repository_role
from repositories.api.access import repository_for_api
from repositories.api.superuser import is_name
from repositories.selectors_logs import LogScope, format_date, log_window_parse, logs_aggregate, logs_page

_TEXT = {"max_length": 255, "required": False, "allow_blank": True}


class LogsQuerySerializer(serializers.Serializer):
    starttime = serializers.CharField(**_TEXT, help_text="First day (MM/DD/YYYY, Quay's format) or ISO 8601 date/date-time. Default: a week before endtime.")
    endtime = serializers.CharField(**_TEXT, help_text="Last day, included (MM/DD/YYYY) or ISO 8601 date (included) or date-time. Default: now.")
    performer = serializers.CharField(**_TEXT, help_text="Only entries by this user or robot (namespace+name).")


class LogsPageQuerySerializer(LogsQuerySerializer):
    next_page = serializers.CharField(max_length=4096, required=False, allow_blank=True, help_text="The next_page token of the previous page.")


# performer and namespace are absent for anonymous entries and entries outside any namespace
_Entity = inline_serializer(
    "LogPerformer", {"kind": serializers.CharField(), "name": serializers.CharField(), "is_robot": serializers.BooleanField()}, required=False
)
_Namespace = inline_serializer(
    "LogNamespace", {"kind": serializers.CharField(allow_null=True, help_text="org or user; null once deleted"), "name": serializers.CharField()},
    required=False,
)
_LogEntry = inline_serializer(
    "LogEntry",
    {
        "kind": serializers.CharField(),
        "metadata": serializers.DictField(),
        "ip": serializers.IPAddressField(allow_null=True),
        "datetime": serializers.CharField(help_text="RFC 2822, UTC (Quay's format)"),
        "performer": _Entity,
        "namespace": _Namespace,
    },
)
_LogsResponse = inline_serializer(
    "LogsPage",
    {
        "start_time": serializers.CharField(),
        "end_time": serializers.CharField(),
        "logs": serializers.ListField(child=_LogEntry),
        "next_page": serializers.CharField(required=False, help_text="Present when there are older entries."),
    },
)
_AggregateResponse = inline_serializer(
    "AggregatedLogs",
    {
        "aggregated": serializers.ListField(
            child=inline_serializer(
                "AggregatedLogEntry", {"kind": serializers.CharField(), "count": serializers.IntegerField(), "datetime": serializers.CharField(help_text="The day, RFC 2822")}
            )
        )
    },
)


class _LogsBase(APIView):
    """Parses the filters, asks the subclass for the scope, and renders the page or the counts."""

    aggregate = False

    def scope(self, request: Request, **kwargs: str) -> LogScope:
        raise NotImplementedError

    def get(self, request: Request, **kwargs: str) -> Response:
        scope = self.scope(request, **kwargs)
        query = (LogsQuerySerializer if self.aggregate else LogsPageQuerySerializer)(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        window = log_window_parse(starttime=params.get("starttime") or None, endtime=params.get("endtime") or None)
        performer = params.get("performer") or None
        if self.aggregate:
            return Response({"aggregated": logs_aggregate(scope=scope, window=window, performer=performer)})
        page = logs_page(scope=scope, window=window, performer=performer, next_page=params.get("next_page") or None)
        body = {"start_time": format_date(window.start), "end_time": format_date(window.end), "logs": page.entries}
        if page.next_page:
            body["next_page"] = page.next_page
        return Response(body)


def _schema(operation_id: str, aggregate: bool, summary: str, description: str):
    return extend_schema(
        operation_id=operation_id,
        parameters=[LogsQuerySerializer if aggregate else LogsPageQuerySerializer],
        responses=_AggregateResponse if aggregate else _LogsResponse,
        summary=summary,
        description=description,
    )


def _repository_logs_scope(request: Request, repository_name: str) -> LogScope:
    """Repository admins, superusers and global read-only superusers (Quay's ``require_repo_admin``
    with ``allow_for_superuser`` and ``allow_for_global_readonly_superuser``). Reading logs is not a
    change, so a read-only or mirrored repository still shows its logs."""
    repository = repository_for_api(request, repository_name, Action.PULL)
    principal = principal_of(request)
    allowed = principal.has_api_scope("repo:admin") and (
        principal.is_superuser or principal.is_readonly_superuser or repository_role(principal, repository) == Role.ADMIN
    )
    if not allowed:
        raise PermissionDenied("only administrators of the repository may read its logs")
    return LogScope(repository_id=repository.pk)


def _organization_logs_scope(request: Request, orgname: str) -> LogScope:
    """Organization admins and (read-only) superusers. Anyone else gets 403 whether or not the
    organization exists, so the answer does not reveal names."""
    principal: Principal = principal_of(request)
    namespace = Namespace.objects.filter(name=orgname, kind=Namespace.Kind.ORGANIZATION).first() if is_name(orgname) else None
    superuser = principal.is_superuser or principal.is_readonly_superuser
    admin = namespace is not None and organization_role_of(principal, namespace_id=namespace.pk) == Team.TeamRole.ADMIN
    if not principal.has_api_scope("org:admin") or not (superuser or admin):
        raise PermissionDenied("only administrators of the organization may read its logs")
    if namespace is None:
        raise NotFound(f"organization {orgname} not found")
    return LogScope(namespace_name=namespace.name)


_REPO = "The caller must administer the repository (or be a superuser)."
_ORG = "The caller must administer the organization (or be a superuser)."
_USER = "Entries in the caller's namespace, and the caller's own actions outside any namespace (logins)."
_SUPER = "Every entry of the registry (superusers and global read-only superusers)."


class RepositoryLogsView(_LogsBase):
    permission_classes = [IsAuthenticated]  # who may read which scope is decided in scope()

    def scope(self, request: Request, **kwargs: str) -> LogScope:
        return _repository_logs_scope(request, kwargs["repository"])

    @_schema("listRepoLogs", False, "Audit log of a repository", _REPO)
    def get(self, request: Request, **kwargs: str) -> Response:
        return super().get(request, **kwargs)


class RepositoryAggregateLogsView(RepositoryLogsView):
    aggregate = True

    @_schema("getAggregateRepoLogs", True, "Audit log counts of a repository, per day and kind", _REPO)
    def get(self, request: Request, **kwargs: str) -> Response:
        return _LogsBase.get(self, request, **kwargs)


class OrganizationLogsView(_LogsBase):
    permission_classes = [IsAuthenticated]  # who may read which scope is decided in scope()

    def scope(self, request: Request, **kwargs: str) -> LogScope:
        return _organization_logs_scope(request, kwargs["orgname"])

    @_schema("listOrgLogs", False, "Audit log of an organization", _ORG)
    def get(self, request: Request, **kwargs: str) -> Response:
        return super().get(request, **kwargs)


class OrganizationAggregateLogsView(OrganizationLogsView):
    aggregate = True

    @_schema("getAggregateOrgLogs", True, "Audit log counts of an organization, per day and kind", _ORG)
    def get(self, request: Request, **kwargs: str) -> Response:
        return _LogsBase.get(self, request, **kwargs)


class UserLogsView(_LogsBase):
    permission_classes = [IsUser]

    def scope(self, request: Request, **kwargs: str) -> LogScope:
        principal = principal_of(request)
        return LogScope(namespace_name=principal.name, user_id=principal.user_id)

    @_schema("listUserLogs", False, "Your audit log", _USER)
    def get(self, request: Request, **kwargs: str) -> Response:
        return super().get(request, **kwargs)


class UserAggregateLogsView(UserLogsView):
    aggregate = True

    @_schema("getAggregateUserLogs", True, "Your audit log counts, per day and kind", _USER)
    def get(self, request: Request, **kwargs: str) -> Response:
        return _LogsBase.get(self, request, **kwargs)


class SuperuserLogsView(_LogsBase):
    permission_classes = [IsSuperuser]

    def scope(self, request: Request, **kwargs: str) -> LogScope:
        return LogScope(everything=True)

    @_schema("listAllLogs", False, "The registry's whole audit log", _SUPER)
    def get(self, request: Request, **kwargs: str) -> Response:
        return super().get(request, **kwargs)


class SuperuserAggregateLogsView(SuperuserLogsView):
    aggregate = True

    @_schema("listAllAggregateLogs", True, "The registry's audit log counts, per day and kind", _SUPER)
    def get(self, request: Request, **kwargs: str) -> Response:
        return _LogsBase.get(self, request, **kwargs)
