"""Pull-through proxy cache API (Quay's ``endpoints/api/organization.py`` proxycache resources):

- ``/organization/<org>/proxycache``: GET the configuration, POST to make the organization a
  cache of an upstream registry (201; 409 when it already is one or holds repositories), DELETE
  to stop caching (204; the cached repositories stay as ordinary repositories).
- ``/organization/<org>/validateproxycache``: POST checks that the upstream answers with the
  given credentials (202 ``{"status": "Valid"}``; 400 with the upstream's problem otherwise).

Organization administrators only (and superusers); the upstream password is write-only.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.authentication import principal_of
from common import serializers
from common.errors import InvalidRequestError
from common.registry_client import UpstreamError
from repositories.api.organizations.common import NO_CONTENT, org_caller, request_info, require_org_admin
from repositories.models.proxy import DEFAULT_PROXY_EXPIRATION_S, ProxyCacheConfig
from repositories.services.mirror import MirrorCredentialsError, secret_decrypt
from repositories.services.proxy import proxy_config_create, proxy_config_delete, proxy_config_of, proxy_config_validate

ORGNAME = OpenApiParameter("orgname", OpenApiTypes.STR, OpenApiParameter.PATH, description="The name of the organization")


class ProxyCacheWriteSerializer(serializers.Serializer):
    upstream_registry = serializers.CharField(max_length=512, help_text="host[:port][/namespace] of the upstream, e.g. docker.io or registry.example.com/library")
    upstream_registry_username = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=255)
    upstream_registry_password = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=4096, write_only=True, help_text="Stored encrypted; never shown")
    expiration_s = serializers.IntegerField(required=False, allow_null=True, min_value=60, max_value=366 * 86400, help_text=f"Seconds a cached tag is served before the upstream is asked again (default {DEFAULT_PROXY_EXPIRATION_S})")
    insecure = serializers.BooleanField(required=False, default=False, help_text="Skip TLS verification (and allow plain HTTP)")
    org_name = serializers.CharField(required=False, help_text="Accepted for Quay compatibility; the path names the organization")


class ProxyCacheSerializer(serializers.Serializer):
    upstream_registry = serializers.CharField(allow_null=True)
    upstream_registry_username = serializers.CharField(allow_null=True)
    expiration_s = serializers.IntegerField()
    insecure = serializers.BooleanField()
    creation_date = serializers.DateTimeField(allow_null=True)


_EXAMPLE = OpenApiExample(
    "Cache Docker Hub's official images",
    value={"upstream_registry": "docker.io/library", "upstream_registry_username": "me", "upstream_registry_password": "secret", "expiration_s": 86400},
    request_only=True,
)


def proxy_body(config: ProxyCacheConfig | None) -> dict[str, Any]:
    if config is None:  # as Quay: an organization without a cache answers the defaults
        return {"upstream_registry": None, "upstream_registry_username": None, "expiration_s": DEFAULT_PROXY_EXPIRATION_S, "insecure": False, "creation_date": None}
    try:
        username = secret_decrypt(config.username_encrypted) or None
    except MirrorCredentialsError:
        username = "(invalid. please re-enter)"
    return {
        "upstream_registry": config.upstream_registry, "upstream_registry_username": username, "expiration_s": config.expiration_s,
        "insecure": config.insecure, "creation_date": config.created,
    }


def _validated(request: Request) -> dict[str, Any]:
    serializer = ProxyCacheWriteSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = dict(serializer.validated_data)
    if data.get("upstream_registry_password") and not data.get("upstream_registry_username"):
        raise InvalidRequestError("a password needs a username")
    return data


class ProxyCacheView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(operation_id="getProxyCacheConfig", summary="The organization's pull-through cache configuration (admin)", parameters=[ORGNAME], responses=ProxyCacheSerializer)
    def get(self, request: Request, orgname: str) -> Response:
        caller = org_caller(request, orgname)
        require_org_admin(caller, write=False)
        return Response(proxy_body(proxy_config_of(organization=caller.organization)))

    @extend_schema(
        operation_id="createProxyCacheConfig", summary="Make the organization a pull-through cache of an upstream registry (admin)",
        description="The organization must hold no repositories; 409 when it already is a proxy cache.",
        parameters=[ORGNAME], request=ProxyCacheWriteSerializer, responses={201: ProxyCacheSerializer}, examples=[_EXAMPLE],
    )
    def post(self, request: Request, orgname: str) -> Response:
        caller = org_caller(request, orgname)
        require_org_admin(caller, write=True)
        data = _validated(request)
        config = proxy_config_create(
            organization=caller.organization, upstream_registry=data["upstream_registry"], username=data.get("upstream_registry_username") or "",
            password=data.get("upstream_registry_password") or "", insecure=data.get("insecure", False), expiration_s=data.get("expiration_s"),
            actor=principal_of(request), request=request_info(request),
        )
        return Response(proxy_body(config), status=status.HTTP_201_CREATED)

    @extend_schema(operation_id="deleteProxyCacheConfig", summary="Stop caching (admin); the cached repositories stay", parameters=[ORGNAME], responses=NO_CONTENT)
    def delete(self, request: Request, orgname: str) -> Response:
        caller = org_caller(request, orgname)
        require_org_admin(caller, write=True)
        proxy_config_delete(organization=caller.organization, actor=principal_of(request), request=request_info(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProxyCacheValidateView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="validateProxyCacheConfig", summary="Check that the upstream answers with these credentials (admin)",
        parameters=[ORGNAME], request=ProxyCacheWriteSerializer,
        responses={202: OpenApiResponse(description='{"status": "Valid"}'), 400: OpenApiResponse(description="the upstream's problem")},
    )
    def post(self, request: Request, orgname: str) -> Response:
        caller = org_caller(request, orgname)
        require_org_admin(caller, write=True)
        data = _validated(request)
        try:
            proxy_config_validate(
                upstream_registry=data["upstream_registry"], username=data.get("upstream_registry_username") or "",
                password=data.get("upstream_registry_password") or "", insecure=data.get("insecure", False),
            )
        except UpstreamError as exc:
            raise InvalidRequestError(f"the upstream registry did not accept the configuration: {exc.message}", detail={"upstream_registry": data["upstream_registry"]}) from None
        return Response({"status": "Valid"}, status=status.HTTP_202_ACCEPTED)
