"""Auto-prune policies (Quay's ``policy.py``): ``/organization/<org>/autoprunepolicy/``,
``/repository/<repo>/autoprunepolicy/`` and ``/user/autoprunepolicy/``, each with ``/<uuid>``.

Organization policies need an organization administrator (global read-only superusers may read),
repository policies the admin role on the repository, user policies act on the caller's own
namespace. Also the scope helpers shared with the immutability-policy views.
"""

from __future__ import annotations

import uuid as uuid_module
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.authentication import principal_of
from accounts.api.permissions import IsUser
from accounts.models import Namespace
from common import serializers
from repositories.access import Action
from repositories.api.organizations.common import org_caller, require_org_admin
from repositories.api.repos_common import repository_for_management, request_info
from repositories.api.repositories import REPO_PATH
from repositories.api.robots import user_namespace
from repositories.models import Repository
from repositories.models.lifecycle import AutoPrunePolicy
from repositories.services.lifecycle import autoprune_policy_create, autoprune_policy_delete, autoprune_policy_update, policy_value

UUID_PATH = OpenApiParameter("uuid", OpenApiTypes.STR, OpenApiParameter.PATH, description="The UUID of the policy")
ORGNAME = OpenApiParameter("orgname", OpenApiTypes.STR, OpenApiParameter.PATH, description="The name of the organization")
NO_CONTENT = {204: OpenApiResponse(description="done; no body")}


# --- scopes shared with the immutability-policy views ----------------------------------------
def org_scope(request: Request, orgname: str, *, write: bool) -> Namespace:
    """The organization's namespace, for an organization administrator (reads: also superusers)."""
    caller = org_caller(request, orgname)
    require_org_admin(caller, write=write)
    return caller.organization.namespace


def repository_scope(request: Request, repository: str) -> Repository:
    """The repository, for a caller holding its admin role (404 when unreadable, 403 otherwise)."""
    return repository_for_management(request, repository, Action.ADMIN)


def parse_uuid(value: str) -> uuid_module.UUID:
    try:
        return uuid_module.UUID(value)
    except ValueError:
        raise NotFound(f"no policy {value}") from None


# --- serializers ----------------------------------------------------------------------------
@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string"}]})
class PruneValueField(serializers.JSONField):
    """A tag count or an age; the service checks which one the method needs (and refuses others)."""


class AutoPrunePolicyInputSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=AutoPrunePolicy.Method.values, help_text="number_of_tags or creation_date")
    value = PruneValueField(help_text="A tag count (number_of_tags) or an age such as \"2w\" (creation_date)")
    tagPattern = serializers.CharField(required=False, allow_blank=True, allow_null=True, default=None, help_text="Optional tag-name regex")  # noqa: N815
    tagPatternMatches = serializers.BooleanField(required=False, default=True, help_text="Prune tags that match (true) or do not match (false)")  # noqa: N815


class AutoPrunePolicySerializer(serializers.Serializer):
    uuid = serializers.CharField()
    method = serializers.CharField()
    value = PruneValueField()
    tagPattern = serializers.CharField(allow_null=True)  # noqa: N815
    tagPatternMatches = serializers.BooleanField()  # noqa: N815


class AutoPrunePolicyListSerializer(serializers.Serializer):
    policies = AutoPrunePolicySerializer(many=True)


class UuidSerializer(serializers.Serializer):
    uuid = serializers.CharField()


_EXAMPLE = OpenApiExample(
    "Keep the 10 newest release tags", value={"method": "number_of_tags", "value": 10, "tagPattern": "^v[0-9]", "tagPatternMatches": True}, request_only=True
)


def policy_body(policy: AutoPrunePolicy) -> dict[str, Any]:
    return {
        "uuid": str(policy.uuid),
        "method": policy.method,
        "value": policy_value(policy),
        "tagPattern": policy.tag_pattern or None,
        "tagPatternMatches": policy.tag_pattern_matches,
    }


def _input(request: Request) -> dict[str, Any]:
    serializer = AutoPrunePolicyInputSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    return {"method": data["method"], "value": data["value"], "tag_pattern": data.get("tagPattern"), "tag_pattern_matches": data["tagPatternMatches"]}


def _find(namespace: Namespace, repository: Repository | None, uuid: str) -> AutoPrunePolicy:
    found = (
        AutoPrunePolicy.objects.select_related("namespace", "repository")
        .filter(namespace=namespace, repository=repository, uuid=parse_uuid(uuid))
        .first()
    )
    if found is None:
        raise NotFound(f"no auto-prune policy {uuid}")
    return found


def _list(namespace: Namespace, repository: Repository | None) -> Response:
    policies = AutoPrunePolicy.objects.filter(namespace=namespace, repository=repository)
    return Response({"policies": [policy_body(p) for p in policies]})


def _create(request: Request, namespace: Namespace, repository: Repository | None) -> Response:
    policy = autoprune_policy_create(namespace=namespace, repository=repository, actor=principal_of(request), request=request_info(request), **_input(request))
    return Response({"uuid": str(policy.uuid)}, status=status.HTTP_201_CREATED)


def _update(request: Request, policy: AutoPrunePolicy) -> Response:
    autoprune_policy_update(policy=policy, actor=principal_of(request), request=request_info(request), **_input(request))
    return Response(status=status.HTTP_204_NO_CONTENT)


def _delete(request: Request, policy: AutoPrunePolicy) -> Response:
    autoprune_policy_delete(policy=policy, actor=principal_of(request), request=request_info(request))
    return Response({"uuid": str(policy.uuid)})


# --- organization ---------------------------------------------------------------------------
class OrgAutoPrunePolicyListView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(operation_id="listOrganizationAutoPrunePolicies", summary="The organization's auto-prune policies (admin)", parameters=[ORGNAME], responses=AutoPrunePolicyListSerializer)
    def get(self, request: Request, orgname: str) -> Response:
        return _list(org_scope(request, orgname, write=False), None)

    @extend_schema(
        operation_id="createOrganizationAutoPrunePolicy", summary="Add an auto-prune policy to every repository of the organization (admin)",
        parameters=[ORGNAME], request=AutoPrunePolicyInputSerializer, responses={201: UuidSerializer}, examples=[_EXAMPLE],
    )
    def post(self, request: Request, orgname: str) -> Response:
        return _create(request, org_scope(request, orgname, write=True), None)


class OrgAutoPrunePolicyView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(operation_id="getOrganizationAutoPrunePolicy", summary="One auto-prune policy (admin)", parameters=[ORGNAME, UUID_PATH], responses=AutoPrunePolicySerializer)
    def get(self, request: Request, orgname: str, uuid: str) -> Response:
        return Response(policy_body(_find(org_scope(request, orgname, write=False), None, uuid)))

    @extend_schema(
        operation_id="updateOrganizationAutoPrunePolicy", summary="Change an auto-prune policy (admin)",
        parameters=[ORGNAME, UUID_PATH], request=AutoPrunePolicyInputSerializer, responses=NO_CONTENT,
    )
    def put(self, request: Request, orgname: str, uuid: str) -> Response:
        return _update(request, _find(org_scope(request, orgname, write=True), None, uuid))

    @extend_schema(operation_id="deleteOrganizationAutoPrunePolicy", summary="Delete an auto-prune policy (admin)", parameters=[ORGNAME, UUID_PATH], responses={200: UuidSerializer})
    def delete(self, request: Request, orgname: str, uuid: str) -> Response:
        return _delete(request, _find(org_scope(request, orgname, write=True), None, uuid))


# --- repository -----------------------------------------------------------------------------
class RepositoryAutoPrunePolicyListView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(operation_id="listRepositoryAutoPrunePolicies", summary="The repository's auto-prune policies (admin)", parameters=[REPO_PATH], responses=AutoPrunePolicyListSerializer)
    def get(self, request: Request, repository: str) -> Response:
        repo = repository_scope(request, repository)
        return _list(repo.namespace, repo)

    @extend_schema(
        operation_id="createRepositoryAutoPrunePolicy", summary="Add an auto-prune policy to the repository (admin)",
        parameters=[REPO_PATH], request=AutoPrunePolicyInputSerializer, responses={201: UuidSerializer}, examples=[_EXAMPLE],
    )
    def post(self, request: Request, repository: str) -> Response:
        repo = repository_scope(request, repository)
        return _create(request, repo.namespace, repo)


class RepositoryAutoPrunePolicyView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(operation_id="getRepositoryAutoPrunePolicy", summary="One auto-prune policy of the repository (admin)", parameters=[REPO_PATH, UUID_PATH], responses=AutoPrunePolicySerializer)
    def get(self, request: Request, repository: str, uuid: str) -> Response:
        repo = repository_scope(request, repository)
        return Response(policy_body(_find(repo.namespace, repo, uuid)))

    @extend_schema(
        operation_id="updateRepositoryAutoPrunePolicy", summary="Change an auto-prune policy of the repository (admin)",
        parameters=[REPO_PATH, UUID_PATH], request=AutoPrunePolicyInputSerializer, responses=NO_CONTENT,
    )
    def put(self, request: Request, repository: str, uuid: str) -> Response:
        repo = repository_scope(request, repository)
        return _update(request, _find(repo.namespace, repo, uuid))

    @extend_schema(operation_id="deleteRepositoryAutoPrunePolicy", summary="Delete an auto-prune policy of the repository (admin)", parameters=[REPO_PATH, UUID_PATH], responses={200: UuidSerializer})
    def delete(self, request: Request, repository: str, uuid: str) -> Response:
        repo = repository_scope(request, repository)
        return _delete(request, _find(repo.namespace, repo, uuid))


# --- the caller's own namespace -------------------------------------------------------------
class UserAutoPrunePolicyListView(APIView):
    permission_classes = [IsUser]
    parser_classes = [JSONParser]

    @extend_schema(operation_id="listUserAutoPrunePolicies", summary="Your namespace's auto-prune policies", responses=AutoPrunePolicyListSerializer)
    def get(self, request: Request) -> Response:
        return _list(user_namespace(request), None)

    @extend_schema(
        operation_id="createUserAutoPrunePolicy", summary="Add an auto-prune policy to your namespace",
        request=AutoPrunePolicyInputSerializer, responses={201: UuidSerializer}, examples=[_EXAMPLE],
    )
    def post(self, request: Request) -> Response:
        return _create(request, user_namespace(request), None)


class UserAutoPrunePolicyView(APIView):
    permission_classes = [IsUser]
    parser_classes = [JSONParser]

    @extend_schema(operation_id="getUserAutoPrunePolicy", summary="One auto-prune policy of your namespace", parameters=[UUID_PATH], responses=AutoPrunePolicySerializer)
    def get(self, request: Request, uuid: str) -> Response:
        return Response(policy_body(_find(user_namespace(request), None, uuid)))

    @extend_schema(
        operation_id="updateUserAutoPrunePolicy", summary="Change an auto-prune policy of your namespace",
        parameters=[UUID_PATH], request=AutoPrunePolicyInputSerializer, responses=NO_CONTENT,
    )
    def put(self, request: Request, uuid: str) -> Response:
        return _update(request, _find(user_namespace(request), None, uuid))

    @extend_schema(operation_id="deleteUserAutoPrunePolicy", summary="Delete an auto-prune policy of your namespace", parameters=[UUID_PATH], responses={200: UuidSerializer})
    def delete(self, request: Request, uuid: str) -> Response:
        return _delete(request, _find(user_namespace(request), None, uuid))
