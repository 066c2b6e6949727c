"""Quay's robot-account API: ``/api/v1/user/robots[...]`` (robots of the signed-in user's namespace)
and ``/api/v1/organization/<orgname>/robots[...]`` (robots of an organization).

Robot tokens are stored hashed, so, unlike Quay, a token is shown exactly once: in the answer to
the PUT that creates the robot and to ``POST .../regenerate``. Listings and GETs never carry it.

Organization robots: members of the organization may list them; their permissions, details and
every change are for organization admins and superusers (Quay's rules). User robots belong to
the signed-in user (``user:read`` / ``user:admin`` scopes).
"""

from __future__ import annotations

import json

from typing import Any

from django.db import transaction
from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.permissions import IsUser
from accounts.models import Namespace, Robot
from accounts.services import robot_create, robot_delete, robot_regenerate_token
from common import serializers
from common.errors import InvalidRequestError
from common.query_params import query_bool
from organizations.models import TeamMember
from repositories.api.organizations import (
    RepositoryPermissionListSerializer,
    audit,
    org_caller,
    permission_body,
    require_org_admin,
)
from repositories.models import RepositoryPermission

_TOKEN_NOTE = (
    "Robot tokens are stored hashed: the token is returned only when the robot is created and when it is regenerated; "
    "`token=true` cannot bring it back."
)


# --- serializers ------------------------------------------------------------------------------


class RobotCreateSerializer(serializers.Serializer):
    description = serializers.CharField(required=False, allow_blank=True, max_length=255)
    unstructured_metadata = serializers.DictField(required=False, help_text="Free-form JSON stored with the robot.")
    token = serializers.CharField(
        required=False, min_length=32, max_length=255, write_only=True,
        help_text="Optional: a token to keep (a robot migrated from another registry). Generated when absent.",
    )

    def validate_unstructured_metadata(self, value: dict) -> dict:
        if len(json.dumps(value)) > 16384:
            raise serializers.ValidationError("robot metadata is limited to 16 KiB of JSON")
        return value


class RobotSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="full robot name, namespace+shortname")
    created = serializers.DateTimeField()
    last_accessed = serializers.DateTimeField(allow_null=True)
    description = serializers.CharField()


class RobotDetailSerializer(RobotSerializer):
    unstructured_metadata = serializers.DictField(help_text="free-form JSON stored with the robot")


class RobotWithTokenSerializer(RobotDetailSerializer):
    token = serializers.CharField(help_text="the robot's password for docker login; shown only in this answer")


class RobotListEntrySerializer(RobotSerializer):
    teams = serializers.ListField(child=serializers.DictField(), required=False, help_text="with permissions=true")
    repositories = serializers.ListField(child=serializers.CharField(), required=False, help_text="with permissions=true")


class RobotListSerializer(serializers.Serializer):
    robots = RobotListEntrySerializer(many=True)


_LIST_PARAMETERS = [
    OpenApiParameter("permissions", bool, description="Include the teams and repositories each robot has (admins only)."),
    OpenApiParameter("token", bool, description="Accepted for Quay compatibility; tokens are never listed. " + _TOKEN_NOTE),
    OpenApiParameter("limit", int, description="Return at most this many robots."),
]


# --- bodies -----------------------------------------------------------------------------------

_datetime = serializers.DateTimeField()


def robot_body(robot: Robot, *, metadata: bool = False, token: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": robot.username,
        "created": _datetime.to_representation(robot.created),
        "last_accessed": _datetime.to_representation(robot.last_used) if robot.last_used else None,
        "description": robot.description,
    }
    if metadata or token is not None:
        body["unstructured_metadata"] = robot.unstructured_metadata or {}
    if token is not None:
        body["token"] = token
    return body


def robots_body(request: Request, namespace: Namespace, *, may_see_permissions: bool) -> dict[str, Any]:
    limit_text = request.query_params.get("limit")
    limit = None
    if limit_text:
        try:
            limit = int(limit_text)
        except ValueError:
            raise InvalidRequestError("limit must be a whole number", detail={"limit": limit_text[:20]}) from None
        if limit < 1:
            raise InvalidRequestError("limit must be at least 1", detail={"limit": limit})
    query = Robot.objects.filter(namespace=namespace).select_related("namespace").order_by("shortname")
    query_bool(request.query_params, "token")  # ignored, but a non-boolean is still a client error
    with_permissions = query_bool(request.query_params, "permissions") and may_see_permissions
    if with_permissions:
        query = query.prefetch_related(
            Prefetch("team_memberships", queryset=TeamMember.objects.select_related("team").order_by("team__name")),
            Prefetch("repository_permissions", queryset=RepositoryPermission.objects.select_related("repository").order_by("repository__name")),
        )
    robots = list(query[:limit] if limit else query)
    entries = []
    for robot in robots:
        entry = robot_body(robot)
        if with_permissions:
            entry["teams"] = [{"name": m.team.name} for m in robot.team_memberships.all()]
            entry["repositories"] = [p.repository.name for p in robot.repository_permissions.all()]
        entries.append(entry)
    return {"robots": entries}


def robot_or_404(namespace: Namespace, shortname: str) -> Robot:
    robot = Robot.objects.select_related("namespace").filter(namespace=namespace, shortname=shortname).first()
    if robot is None:
        raise NotFound(f"robot {namespace.name}+{shortname} not found")
    return robot


def permissions_body(robot: Robot) -> dict[str, Any]:
    permissions = RepositoryPermission.objects.filter(robot=robot).select_related("repository").order_by("repository__name")
    return {"permissions": [permission_body(p) for p in permissions]}


def create_robot(request: Request, namespace: Namespace, shortname: str) -> Response:
    serializer = RobotCreateSerializer(data=request.data or {})
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    description = data.get("description", "")
    with transaction.atomic():
        created = robot_create(
            namespace=namespace, shortname=shortname, description=description, token=data.get("token"),
            unstructured_metadata=data.get("unstructured_metadata"),
        )
        audit(
            request, "create_robot", namespace.name, robot=shortname, description=description,
            unstructured_metadata=data.get("unstructured_metadata"), token_supplied="token" in data,
        )
    return Response(robot_body(created.robot, token=created.token), status=status.HTTP_201_CREATED)


def delete_robot(request: Request, namespace: Namespace, shortname: str) -> Response:
    robot = robot_or_404(namespace, shortname)
    with transaction.atomic():
        robot_delete(robot=robot)
        audit(request, "delete_robot", namespace.name, robot=shortname)
    return Response(status=status.HTTP_204_NO_CONTENT)


def regenerate_robot(request: Request, namespace: Namespace, shortname: str) -> Response:
    robot = robot_or_404(namespace, shortname)
    with transaction.atomic():
        regenerated = robot_regenerate_token(robot=robot)
        audit(request, "regenerate_robot_token", namespace.name, robot=shortname)
    return Response(robot_body(regenerated.robot, token=regenerated.token))


_CREATE_SCHEMA: dict[str, Any] = dict(
    summary="Create a robot (its token is in this answer, and only here)",
    description=_TOKEN_NOTE + " The body is optional.",
    request=RobotCreateSerializer,
    responses={201: RobotWithTokenSerializer, 409: OpenApiResponse(description="a robot with this name exists")},
    examples=[OpenApiExample("deployer", value={"description": "pushes from CI"}, request_only=True)],
)
_REGENERATE_SCHEMA: dict[str, Any] = dict(
    summary="Replace the robot's token (the new token is in this answer, and only here)",
    description=_TOKEN_NOTE,
    request=None,
    responses=RobotWithTokenSerializer,
)


# --- the signed-in user's robots --------------------------------------------------------------


def user_namespace(request: Request) -> Namespace:
    namespace = request.user.namespace
    if namespace is None:
        raise NotFound("you have no namespace of your own")
    return namespace


class UserRobotListView(APIView):
    permission_classes = [IsUser]

    @extend_schema(
        operation_id="getUserRobots", summary="Your robots", description=_TOKEN_NOTE, parameters=_LIST_PARAMETERS, responses=RobotListSerializer
    )
    def get(self, request: Request) -> Response:
        return Response(robots_body(request, user_namespace(request), may_see_permissions=True))


class UserRobotView(APIView):
    permission_classes = [IsUser]

    @extend_schema(operation_id="getUserRobot", summary="One of your robots (without its token)", description=_TOKEN_NOTE, responses=RobotDetailSerializer)
    def get(self, request: Request, robot_shortname: str) -> Response:
        return Response(robot_body(robot_or_404(user_namespace(request), robot_shortname), metadata=True))

    @extend_schema(operation_id="createUserRobot", **_CREATE_SCHEMA)
    def put(self, request: Request, robot_shortname: str) -> Response:
        return create_robot(request, user_namespace(request), robot_shortname)

    @extend_schema(operation_id="deleteUserRobot", summary="Delete one of your robots", responses={204: OpenApiResponse(description="deleted")})
    def delete(self, request: Request, robot_shortname: str) -> Response:
        return delete_robot(request, user_namespace(request), robot_shortname)


class UserRobotRegenerateView(APIView):
    permission_classes = [IsUser]

    @extend_schema(operation_id="regenerateUserRobotToken", **_REGENERATE_SCHEMA)
    def post(self, request: Request, robot_shortname: str) -> Response:
        return regenerate_robot(request, user_namespace(request), robot_shortname)


class UserRobotPermissionsView(APIView):
    permission_classes = [IsUser]

    @extend_schema(operation_id="getUserRobotPermissions", summary="Repositories your robot holds a permission on", responses=RepositoryPermissionListSerializer)
    def get(self, request: Request, robot_shortname: str) -> Response:
        return Response(permissions_body(robot_or_404(user_namespace(request), robot_shortname)))


# --- organization robots ----------------------------------------------------------------------


class OrgRobotListView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="getOrgRobots",
        summary="The organization's robots (for its members; permissions for admins)",
        description=_TOKEN_NOTE,
        parameters=_LIST_PARAMETERS,
        responses=RobotListSerializer,
        examples=[
            OpenApiExample(
                "with permissions=true",
                response_only=True,
                value={"robots": [{"name": "acme+deployer", "created": "2025-01-01T00:00:00Z", "last_accessed": None,
                                   "description": "pushes from CI", "teams": [{"name": "builders"}], "repositories": ["app"]}]},
            )
        ],
    )
    def get(self, request: Request, orgname: str) -> Response:
        caller = org_caller(request, orgname)
        principal = caller.principal
        if not principal.has_api_scope("org:admin"):
            raise PermissionDenied("this API token lacks the org:admin scope")
        if not (caller.is_member or caller.sees_everything):
            raise PermissionDenied("only the organization's members may list its robots")
        return Response(robots_body(request, caller.organization.namespace, may_see_permissions=caller.sees_everything))


class OrgRobotView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="getOrgRobot", summary="One robot of the organization (without its token)", description=_TOKEN_NOTE, responses=RobotDetailSerializer)
    def get(self, request: Request, orgname: str, robot_shortname: str) -> Response:
        caller = org_caller(request, orgname)
        require_org_admin(caller, write=False)
        return Response(robot_body(robot_or_404(caller.organization.namespace, robot_shortname), metadata=True))

    @extend_schema(operation_id="createOrgRobot", **_CREATE_SCHEMA)
    def put(self, request: Request, orgname: str, robot_shortname: str) -> Response:
        caller = org_caller(request, orgname)
        require_org_admin(caller, write=True)
        return create_robot(request, caller.organization.namespace, robot_shortname)

    @extend_schema(operation_id="deleteOrgRobot", summary="Delete a robot of the organization", responses={204: OpenApiResponse(description="deleted")})
    def delete(self, request: Request, orgname: str, robot_shortname: str) -> Response:
        caller = org_caller(request, orgname)
        require_org_admin(caller, write=True)
        return delete_robot(request, caller.organization.namespace, robot_shortname)


class OrgRobotRegenerateView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="regenerateOrgRobotToken", **_REGENERATE_SCHEMA)
    def post(self, request: Request, orgname: str, robot_shortname: str) -> Response:
        caller = org_caller(request, orgname)
        require_org_admin(caller, write=True)
        return regenerate_robot(request, caller.organization.namespace, robot_shortname)


class OrgRobotPermissionsView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="getOrgRobotPermissions", summary="Repositories the robot holds a permission on", responses=RepositoryPermissionListSerializer
    )
    def get(self, request: Request, orgname: str, robot_shortname: str) -> Response:
        caller = org_caller(request, orgname)
        require_org_admin(caller, write=False)
        return Response(permissions_body(robot_or_404(caller.organization.namespace, robot_shortname)))
