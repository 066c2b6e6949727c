"""Storage quotas (Quay's ``namespacequota.py``, section 1.15 of the Quay reference).

- ``/organization/<org>/quota[/<id>[/limit[/<limit_id>]]]``: members and superusers (also global
  read-only ones) read; only superusers create, change and delete, as in Quay.
- ``/user/quota[/<id>[/limit[/<limit_id>]]]``: read-only view of the caller's own namespace.
- ``/superuser/users/<namespace>/quota[/<id>]``: superuser management of any namespace's quota.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotAuthenticated, NotFound, PermissionDenied
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.authentication import principal_of
from accounts.api.permissions import IsSuperuser, IsUser
from accounts.models import Namespace
from common import serializers
from repositories.api.organizations.common import org_caller
from repositories.api.repos_common import request_info
from repositories.api.robots import user_namespace
from repositories.models.lifecycle import NamespaceQuota, QuotaLimit
from repositories.selectors_usage import namespace_usage
from repositories.services.quotas import (
    quota_change,
    quota_create,
    quota_delete,
    quota_find,
    quota_limit_change,
    quota_limit_create,
    quota_limit_delete,
    quota_limit_find,
)

ORGNAME = OpenApiParameter("orgname", OpenApiTypes.STR, OpenApiParameter.PATH, description="The name of the organization")
QUOTA_ID = OpenApiParameter("quota_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="The id of the quota")
LIMIT_ID = OpenApiParameter("limit_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="The id of the limit")
NAMESPACE = OpenApiParameter("namespace", OpenApiTypes.STR, OpenApiParameter.PATH, description="The name of a user or organization")
NO_CONTENT = {204: OpenApiResponse(description="done; no body")}


def human_bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


# --- serializers ----------------------------------------------------------------------------
class QuotaInputSerializer(serializers.Serializer):
    limit_bytes = serializers.IntegerField(min_value=1, help_text="The quota in bytes")


class LimitInputSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=QuotaLimit.Type.values, help_text="Warning (notify) or Reject (refuse pushes)")
    threshold_percent = serializers.IntegerField(min_value=1, max_value=100, help_text="Percent of the quota")


class LimitChangeSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=QuotaLimit.Type.values, required=False)
    threshold_percent = serializers.IntegerField(min_value=1, max_value=100, required=False)


class LimitSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    type = serializers.CharField()
    limit_percent = serializers.IntegerField()


class QuotaReportSerializer(serializers.Serializer):
    quota_bytes = serializers.IntegerField(help_text="Deduplicated bytes in use")
    configured_quota = serializers.IntegerField()
    percent_consumed = serializers.FloatField(allow_null=True)


class QuotaSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    limit_bytes = serializers.IntegerField()
    limit = serializers.CharField(help_text="The quota, human-readable")
    default_config = serializers.BooleanField()
    default_config_exists = serializers.BooleanField()
    limits = LimitSerializer(many=True)
    quota_report = QuotaReportSerializer()


def limit_body(limit: QuotaLimit) -> dict[str, Any]:
    return {"id": limit.pk, "type": limit.type, "limit_percent": limit.threshold_percent}


def quota_body(quota: NamespaceQuota) -> dict[str, Any]:
    usage = namespace_usage(namespace_id=quota.namespace_id)
    return {
        "id": quota.pk,
        "limit_bytes": quota.limit_bytes,
        "limit": human_bytes(quota.limit_bytes),
        "default_config": False,
        "default_config_exists": False,
        "limits": [limit_body(limit) for limit in quota.limits.all()],
        "quota_report": {"quota_bytes": usage.size_bytes, "configured_quota": quota.limit_bytes, "percent_consumed": usage.percent},
    }


def _quotas(namespace: Namespace) -> Response:
    return Response([quota_body(q) for q in NamespaceQuota.objects.filter(namespace=namespace).prefetch_related("limits")])


def _valid(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# --- who may do what ----------------------------------------------------------------------------
def _org_namespace(request: Request, orgname: str, *, write: bool) -> Namespace:
    """Reads: organization members and (read-only) superusers; writes: superusers only (Quay)."""
    caller = org_caller(request, orgname)
    principal = caller.principal
    if principal.is_anonymous:
        raise NotAuthenticated()
    if write:
        if not (principal.is_superuser and principal.has_api_scope("super:user")):
            raise PermissionDenied("only a superuser can change quotas")
    elif not (caller.is_member or principal.is_superuser or principal.is_readonly_superuser):
        raise PermissionDenied("organization member access required")
    return caller.organization.namespace


def _any_namespace(name: str) -> Namespace:
    namespace = Namespace.objects.filter(name=name).first()
    if namespace is None:
        raise NotFound(f"namespace {name} not found")
    return namespace


_CREATE_EXAMPLE = OpenApiExample("10 GiB", value={"limit_bytes": 10 * 1024**3}, request_only=True)


# --- organization -------------------------------------------------------------------------------
class OrgQuotaListView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(operation_id="listOrganizationQuota", summary="The organization's quota with its limits and usage", parameters=[ORGNAME], responses=QuotaSerializer(many=True))
    def get(self, request: Request, orgname: str) -> Response:
        return _quotas(_org_namespace(request, orgname, write=False))

    @extend_schema(
        operation_id="createOrganizationQuota", summary="Give the organization a quota (superuser; one per namespace)",
        parameters=[ORGNAME], request=QuotaInputSerializer, responses={201: QuotaSerializer}, examples=[_CREATE_EXAMPLE],
    )
    def post(self, request: Request, orgname: str) -> Response:
        namespace = _org_namespace(request, orgname, write=True)
        quota = quota_create(namespace=namespace, limit_bytes=_valid(QuotaInputSerializer, request)["limit_bytes"], actor=principal_of(request), request=request_info(request))
        return Response(quota_body(quota), status=status.HTTP_201_CREATED)


class OrgQuotaView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(operation_id="getOrganizationQuota", summary="One quota", parameters=[ORGNAME, QUOTA_ID], responses=QuotaSerializer)
    def get(self, request: Request, orgname: str, quota_id: str) -> Response:
        return Response(quota_body(quota_find(namespace=_org_namespace(request, orgname, write=False), quota_id=quota_id)))

    @extend_schema(operation_id="changeOrganizationQuota", summary="Change the quota's size (superuser)", parameters=[ORGNAME, QUOTA_ID], request=QuotaInputSerializer, responses=QuotaSerializer)
    def put(self, request: Request, orgname: str, quota_id: str) -> Response:
        quota = quota_find(namespace=_org_namespace(request, orgname, write=True), quota_id=quota_id)
        quota = quota_change(quota=quota, limit_bytes=_valid(QuotaInputSerializer, request)["limit_bytes"], actor=principal_of(request), request=request_info(request))
        return Response(quota_body(quota))

    @extend_schema(operation_id="deleteOrganizationQuota", summary="Remove the quota (superuser)", parameters=[ORGNAME, QUOTA_ID], responses=NO_CONTENT)
    def delete(self, request: Request, orgname: str, quota_id: str) -> Response:
        quota = quota_find(namespace=_org_namespace(request, orgname, write=True), quota_id=quota_id)
        quota_delete(quota=quota, actor=principal_of(request), request=request_info(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class OrgQuotaLimitListView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(operation_id="listOrganizationQuotaLimits", summary="The quota's Warning and Reject thresholds", parameters=[ORGNAME, QUOTA_ID], responses=LimitSerializer(many=True))
    def get(self, request: Request, orgname: str, quota_id: str) -> Response:
        quota = quota_find(namespace=_org_namespace(request, orgname, write=False), quota_id=quota_id)
        return Response([limit_body(limit) for limit in quota.limits.all()])

    @extend_schema(
        operation_id="createOrganizationQuotaLimit", summary="Add a Warning or Reject threshold (superuser)",
        parameters=[ORGNAME, QUOTA_ID], request=LimitInputSerializer, responses={201: LimitSerializer},
        examples=[OpenApiExample("Reject at 95%", value={"type": "Reject", "threshold_percent": 95}, request_only=True)],
    )
    def post(self, request: Request, orgname: str, quota_id: str) -> Response:
        quota = quota_find(namespace=_org_namespace(request, orgname, write=True), quota_id=quota_id)
        data = _valid(LimitInputSerializer, request)
        limit = quota_limit_create(quota=quota, limit_type=data["type"], threshold_percent=data["threshold_percent"], actor=principal_of(request), request=request_info(request))
        return Response(limit_body(limit), status=status.HTTP_201_CREATED)


class OrgQuotaLimitView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(operation_id="getOrganizationQuotaLimit", summary="One threshold", parameters=[ORGNAME, QUOTA_ID, LIMIT_ID], responses=LimitSerializer)
    def get(self, request: Request, orgname: str, quota_id: str, limit_id: str) -> Response:
        quota = quota_find(namespace=_org_namespace(request, orgname, write=False), quota_id=quota_id)
        return Response(limit_body(quota_limit_find(quota=quota, limit_id=limit_id)))

    @extend_schema(operation_id="changeOrganizationQuotaLimit", summary="Change a threshold (superuser)", parameters=[ORGNAME, QUOTA_ID, LIMIT_ID], request=LimitChangeSerializer, responses=LimitSerializer)
    def put(self, request: Request, orgname: str, quota_id: str, limit_id: str) -> Response:
        quota = quota_find(namespace=_org_namespace(request, orgname, write=True), quota_id=quota_id)
        data = _valid(LimitChangeSerializer, request)
        limit = quota_limit_change(
            limit=quota_limit_find(quota=quota, limit_id=limit_id), limit_type=data.get("type"), threshold_percent=data.get("threshold_percent"),
            actor=principal_of(request), request=request_info(request),
        )
        return Response(limit_body(limit))

    @extend_schema(operation_id="deleteOrganizationQuotaLimit", summary="Remove a threshold (superuser)", parameters=[ORGNAME, QUOTA_ID, LIMIT_ID], responses=NO_CONTENT)
    def delete(self, request: Request, orgname: str, quota_id: str, limit_id: str) -> Response:
        quota = quota_find(namespace=_org_namespace(request, orgname, write=True), quota_id=quota_id)
        quota_limit_delete(limit=quota_limit_find(quota=quota, limit_id=limit_id), actor=principal_of(request), request=request_info(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- the caller's own namespace (read-only) ----------------------------------------------------
class UserQuotaListView(APIView):
    permission_classes = [IsUser]

    @extend_schema(operation_id="listUserQuota", summary="Your namespace's quota with its limits and usage", responses=QuotaSerializer(many=True))
    def get(self, request: Request) -> Response:
        return _quotas(user_namespace(request))


class UserQuotaView(APIView):
    permission_classes = [IsUser]

    @extend_schema(operation_id="getUserQuota", summary="One quota of your namespace", parameters=[QUOTA_ID], responses=QuotaSerializer)
    def get(self, request: Request, quota_id: str) -> Response:
        return Response(quota_body(quota_find(namespace=user_namespace(request), quota_id=quota_id)))


class UserQuotaLimitListView(APIView):
    permission_classes = [IsUser]

    @extend_schema(operation_id="listUserQuotaLimits", summary="The thresholds of your namespace's quota", parameters=[QUOTA_ID], responses=LimitSerializer(many=True))
    def get(self, request: Request, quota_id: str) -> Response:
        quota = quota_find(namespace=user_namespace(request), quota_id=quota_id)
        return Response([limit_body(limit) for limit in quota.limits.all()])


class UserQuotaLimitView(APIView):
    permission_classes = [IsUser]

    @extend_schema(operation_id="getUserQuotaLimit", summary="One threshold of your namespace's quota", parameters=[QUOTA_ID, LIMIT_ID], responses=LimitSerializer)
    def get(self, request: Request, quota_id: str, limit_id: str) -> Response:
        quota = quota_find(namespace=user_namespace(request), quota_id=quota_id)
        return Response(limit_body(quota_limit_find(quota=quota, limit_id=limit_id)))


# --- superuser management of any namespace --------------------------------------------------------
class SuperuserQuotaListView(APIView):
    permission_classes = [IsSuperuser]
    parser_classes = [JSONParser]

    @extend_schema(operation_id="listUserQuotaSuperUser", summary="A namespace's quota (superuser)", parameters=[NAMESPACE], responses=QuotaSerializer(many=True))
    def get(self, request: Request, namespace: str) -> Response:
        return _quotas(_any_namespace(namespace))

    @extend_schema(
        operation_id="createUserQuotaSuperUser", summary="Give a namespace a quota (superuser)",
        parameters=[NAMESPACE], request=QuotaInputSerializer, responses={201: QuotaSerializer}, examples=[_CREATE_EXAMPLE],
    )
    def post(self, request: Request, namespace: str) -> Response:
        quota = quota_create(
            namespace=_any_namespace(namespace), limit_bytes=_valid(QuotaInputSerializer, request)["limit_bytes"],
            actor=principal_of(request), request=request_info(request),
        )
        return Response(quota_body(quota), status=status.HTTP_201_CREATED)


class SuperuserQuotaView(APIView):
    permission_classes = [IsSuperuser]
    parser_classes = [JSONParser]

    @extend_schema(operation_id="changeUserQuotaSuperUser", summary="Change a namespace's quota (superuser)", parameters=[NAMESPACE, QUOTA_ID], request=QuotaInputSerializer, responses=QuotaSerializer)
    def put(self, request: Request, namespace: str, quota_id: str) -> Response:
        quota = quota_find(namespace=_any_namespace(namespace), quota_id=quota_id)
        quota = quota_change(quota=quota, limit_bytes=_valid(QuotaInputSerializer, request)["limit_bytes"], actor=principal_of(request), request=request_info(request))
        return Response(quota_body(quota))

    @extend_schema(operation_id="deleteUserQuotaSuperUser", summary="Remove a namespace's quota (superuser)", parameters=[NAMESPACE, QUOTA_ID], responses=NO_CONTENT)
    def delete(self, request: Request, namespace: str, quota_id: str) -> Response:
        quota = quota_find(namespace=_any_namespace(namespace), quota_id=quota_id)
        quota_delete(quota=quota, actor=principal_of(request), request=request_info(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
