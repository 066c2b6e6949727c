"""Immutability policies (Quay's ``immutability_policy.py``): ``/organization/<org>/immutabilitypolicy/``
and ``/repository/<repo>/immutabilitypolicy/``, each with ``/<uuid>``.

Tags whose name matches (or does not match) ``tagPattern`` become immutable when pushed; a new
policy also applies to the live tags at once. Organization administrators manage organization
policies, repository administrators repository policies.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.authentication import principal_of
from accounts.models import Namespace
from common import serializers
from repositories.api.autoprune import NO_CONTENT, ORGNAME, UUID_PATH, UuidSerializer, org_scope, parse_uuid, repository_scope
from repositories.api.repos_common import request_info
from repositories.api.repositories import REPO_PATH
from repositories.models import Repository
from repositories.models.lifecycle import ImmutabilityPolicy
from repositories.services.lifecycle import immutability_policy_create, immutability_policy_delete, immutability_policy_update


class ImmutabilityPolicyInputSerializer(serializers.Serializer):
    tagPattern = serializers.CharField(max_length=255, help_text="Tag-name regular expression")  # noqa: N815
    tagPatternMatches = serializers.BooleanField(required=False, default=True, help_text="Tags that match (true) or do not match (false) become immutable")  # noqa: N815


class ImmutabilityPolicySerializer(serializers.Serializer):
    uuid = serializers.CharField()
    tagPattern = serializers.CharField()  # noqa: N815
    tagPatternMatches = serializers.BooleanField()  # noqa: N815


class ImmutabilityPolicyListSerializer(serializers.Serializer):
    policies = ImmutabilityPolicySerializer(many=True)


_EXAMPLE = OpenApiExample("Release tags are immutable", value={"tagPattern": "^v[0-9]+\\.[0-9]+\\.[0-9]+$", "tagPatternMatches": True}, request_only=True)


def policy_body(policy: ImmutabilityPolicy) -> dict[str, Any]:
    return {"uuid": str(policy.uuid), "tagPattern": policy.tag_pattern, "tagPatternMatches": policy.tag_pattern_matches}


def _input(request: Request) -> dict[str, Any]:
    serializer = ImmutabilityPolicyInputSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    return {"tag_pattern": serializer.validated_data["tagPattern"], "tag_pattern_matches": serializer.validated_data["tagPatternMatches"]}


def _find(namespace: Namespace, repository: Repository | None, uuid: str) -> ImmutabilityPolicy:
    found = (
        ImmutabilityPolicy.objects.select_related("namespace", "repository")
        .filter(namespace=namespace, repository=repository, uuid=parse_uuid(uuid))
        .first()
    )
    if found is None:
        raise NotFound(f"no immutability policy {uuid}")
    return found


def _list(namespace: Namespace, repository: Repository | None) -> Response:
    return Response({"policies": [policy_body(p) for p in ImmutabilityPolicy.objects.filter(namespace=namespace, repository=repository)]})


def _create(request: Request, namespace: Namespace, repository: Repository | None) -> Response:
    policy = immutability_policy_create(namespace=namespace, repository=repository, actor=principal_of(request), request=request_info(request), **_input(request))
    return Response({"uuid": str(policy.uuid)}, status=status.HTTP_201_CREATED)


def _update(request: Request, policy: ImmutabilityPolicy) -> Response:
    immutability_policy_update(policy=policy, actor=principal_of(request), request=request_info(request), **_input(request))
    return Response(status=status.HTTP_204_NO_CONTENT)


def _delete(request: Request, policy: ImmutabilityPolicy) -> Response:
    immutability_policy_delete(policy=policy, actor=principal_of(request), request=request_info(request))
    return Response({"uuid": str(policy.uuid)})


class OrgImmutabilityPolicyListView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(operation_id="listOrganizationImmutabilityPolicies", summary="The organization's immutability policies (admin)", parameters=[ORGNAME], responses=ImmutabilityPolicyListSerializer)
    def get(self, request: Request, orgname: str) -> Response:
        return _list(org_scope(request, orgname, write=False), None)

    @extend_schema(
        operation_id="createOrganizationImmutabilityPolicy", summary="Add an immutability policy to the organization (admin)",
        parameters=[ORGNAME], request=ImmutabilityPolicyInputSerializer, responses={201: UuidSerializer}, examples=[_EXAMPLE],
    )
    def post(self, request: Request, orgname: str) -> Response:
        return _create(request, org_scope(request, orgname, write=True), None)


class OrgImmutabilityPolicyView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(operation_id="getOrganizationImmutabilityPolicy", summary="One immutability policy (admin)", parameters=[ORGNAME, UUID_PATH], responses=ImmutabilityPolicySerializer)
    def get(self, request: Request, orgname: str, uuid: str) -> Response:
        return Response(policy_body(_find(org_scope(request, orgname, write=False), None, uuid)))

    @extend_schema(
        operation_id="updateOrganizationImmutabilityPolicy", summary="Change an immutability policy (admin)",
        parameters=[ORGNAME, UUID_PATH], request=ImmutabilityPolicyInputSerializer, responses=NO_CONTENT,
    )
    def put(self, request: Request, orgname: str, uuid: str) -> Response:
        return _update(request, _find(org_scope(request, orgname, write=True), None, uuid))

    @extend_schema(operation_id="deleteOrganizationImmutabilityPolicy", summary="Delete an immutability policy (admin)", parameters=[ORGNAME, UUID_PATH], responses={200: UuidSerializer})
    def delete(self, request: Request, orgname: str, uuid: str) -> Response:
        return _delete(request, _find(org_scope(request, orgname, write=True), None, uuid))


class RepositoryImmutabilityPolicyListView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(operation_id="listRepositoryImmutabilityPolicies", summary="The repository's immutability policies (admin)", parameters=[REPO_PATH], responses=ImmutabilityPolicyListSerializer)
    def get(self, request: Request, repository: str) -> Response:
        repo = repository_scope(request, repository)
        return _list(repo.namespace, repo)

    @extend_schema(
        operation_id="createRepositoryImmutabilityPolicy", summary="Add an immutability policy to the repository (admin)",
        parameters=[REPO_PATH], request=ImmutabilityPolicyInputSerializer, responses={201: UuidSerializer}, examples=[_EXAMPLE],
    )
    def post(self, request: Request, repository: str) -> Response:
        repo = repository_scope(request, repository)
        return _create(request, repo.namespace, repo)


class RepositoryImmutabilityPolicyView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(operation_id="getRepositoryImmutabilityPolicy", summary="One immutability policy of the repository (admin)", parameters=[REPO_PATH, UUID_PATH], responses=ImmutabilityPolicySerializer)
    def get(self, request: Request, repository: str, uuid: str) -> Response:
        repo = repository_scope(request, repository)
        return Response(policy_body(_find(repo.namespace, repo, uuid)))

    @extend_schema(
        operation_id="updateRepositoryImmutabilityPolicy", summary="Change an immutability policy of the repository (admin)",
        parameters=[REPO_PATH, UUID_PATH], request=ImmutabilityPolicyInputSerializer, responses=NO_CONTENT,
    )
    def put(self, request: Request, repository: str, uuid: str) -> Response:
        repo = repository_scope(request, repository)
        return _update(request, _find(repo.namespace, repo, uuid))

    @extend_schema(operation_id="deleteRepositoryImmutabilityPolicy", summary="Delete an immutability policy of the repository (admin)", parameters=[REPO_PATH, UUID_PATH], responses={200: UuidSerializer})
    def delete(self, request: Request, repository: str, uuid: str) -> Response:
        repo = repository_scope(request, repository)
        return _delete(request, _find(repo.namespace, repo, uuid))
