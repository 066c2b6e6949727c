"""``/api/v1/repository/<repo>/permissions/...``: direct grants to users, robots and teams (Quay's
``permission.py``). Every method needs the admin role on the repository."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.authentication import principal_of
from accounts.models import Robot, User
from common.errors import InvalidRequestError
from organizations.models import Team
from repositories.access import Action
from repositories.api.repos_common import avatar, repository_for_management, request_info
from repositories.api.repos_serializers import (
    RoleSerializer,
    TeamPermissionListSerializer,
    TeamPermissionSerializer,
    TransitivePermissionSerializer,
    UserPermissionListSerializer,
    UserPermissionSerializer,
)
from repositories.api.repositories import REPO_PATH
from repositories.models import Repository, RepositoryPermission
from repositories.selectors_api import (
    UserPermissionView,
    repository_roles_of,
    repository_team_permission,
    repository_team_permissions,
    repository_user_permission,
    repository_user_permissions,
    team_in_namespace,
    user_or_robot_by_name,
)
from repositories.services.repositories import repository_permission_change, repository_permission_delete

USERNAME = OpenApiParameter("username", OpenApiTypes.STR, OpenApiParameter.PATH, description="A user name, or a robot as namespace+name")
TEAMNAME = OpenApiParameter("teamname", OpenApiTypes.STR, OpenApiParameter.PATH, description="A team of the repository's organization")
_DELETED = OpenApiResponse(description="permission revoked")
_ROLE_EXAMPLE = OpenApiExample("Give write access", value={"role": "write"}, request_only=True)


def _user_item(view: UserPermissionView) -> dict:
    item = {
        "role": view.permission.role,
        "name": view.name,
        "is_robot": view.is_robot,
        "avatar": avatar(view.name, "robot" if view.is_robot else "user", view.email),
    }
    if view.is_org_member is not None:
        item["is_org_member"] = view.is_org_member
    return item


def _team_item(permission: RepositoryPermission) -> dict:
    assert permission.team is not None
    return {"role": permission.role, "name": permission.team.name, "avatar": avatar(permission.team.name, "team")}


def _grantee(name: str, *, for_write: bool) -> dict[str, User | Robot]:
    """``{"user": ...}`` or ``{"robot": ...}``; 400 (writes, as Quay) or 404 (reads) when unknown."""
    entity = user_or_robot_by_name(name)
    if entity is None:
        if for_write:
            raise InvalidRequestError(f"Invalid username: {name}", detail={"username": name})
        raise NotFound(f"no user or robot called {name}")
    return {"robot": entity} if isinstance(entity, Robot) else {"user": entity}


def _team(repository: Repository, name: str, *, for_write: bool) -> Team:
    team = team_in_namespace(namespace_id=repository.namespace_id, name=name)
    if team is None:
        if for_write:
            raise InvalidRequestError(f"Invalid team: {name}", detail={"team": name})
        raise NotFound(f"no team called {name} in {repository.namespace.name}")
    return team


def _role(request: Request) -> str:
    serializer = RoleSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data["role"]


class UserPermissionListView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="listRepoUserPermissions",
        summary="Users and robots with a direct permission (admin)",
        parameters=[REPO_PATH],
        responses=UserPermissionListSerializer,
        examples=[
            OpenApiExample(
                "Grants",
                value={"permissions": {"alice": {"role": "write", "name": "alice", "is_robot": False, "is_org_member": True,
                                                  "avatar": {"name": "alice", "hash": "c160…", "color": "#2ca02c", "kind": "user"}}}},
                response_only=True,
            )
        ],
    )
    def get(self, request: Request, repository: str) -> Response:
        repo = repository_for_management(request, repository, Action.ADMIN)
        return Response({"permissions": {view.name: _user_item(view) for view in repository_user_permissions(repository=repo)}})


class UserPermissionDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="getUserPermissions", summary="The direct permission of a user or robot (admin)", parameters=[REPO_PATH, USERNAME], responses=UserPermissionSerializer)
    def get(self, request: Request, repository: str, username: str) -> Response:
        repo = repository_for_management(request, repository, Action.ADMIN)
        view = repository_user_permission(repository=repo, **_grantee(username, for_write=False))
        if view is None:
            raise NotFound(f"{username} has no direct permission on {repo.full_name}")
        return Response(_user_item(view))

    @extend_schema(
        operation_id="changeUserPermissions",
        summary="Grant or change the role of a user or robot (admin)",
        parameters=[REPO_PATH, USERNAME],
        request=RoleSerializer,
        responses=UserPermissionSerializer,
        examples=[_ROLE_EXAMPLE],
    )
    def put(self, request: Request, repository: str, username: str) -> Response:
        repo = repository_for_management(request, repository, Action.ADMIN)
        role = _role(request)
        grantee = _grantee(username, for_write=True)
        repository_permission_change(repository=repo, role=role, actor=principal_of(request), request=request_info(request), **grantee)
        view = repository_user_permission(repository=repo, **grantee)
        assert view is not None
        return Response(_user_item(view))

    @extend_schema(
        operation_id="deleteUserPermissions", summary="Revoke the direct permission of a user or robot (admin)", parameters=[REPO_PATH, USERNAME], request=None, responses={204: _DELETED})
    def delete(self, request: Request, repository: str, username: str) -> Response:
        repo = repository_for_management(request, repository, Action.ADMIN)
        repository_permission_delete(repository=repo, actor=principal_of(request), request=request_info(request), **_grantee(username, for_write=False))
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserTransitivePermissionView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="getUserTransitivePermission",
        summary="Roles of a user or robot, direct and through teams (admin)",
        parameters=[REPO_PATH, USERNAME],
        responses=TransitivePermissionSerializer,
        examples=[OpenApiExample("Through a team and directly", value={"permissions": [{"role": "write"}, {"role": "read"}]}, response_only=True)],
    )
    def get(self, request: Request, repository: str, username: str) -> Response:
        repo = repository_for_management(request, repository, Action.ADMIN)
        roles = repository_roles_of(repository=repo, **_grantee(username, for_write=False))
        if not roles:
            raise NotFound(f"{username} has no permission on {repo.full_name}")
        return Response({"permissions": [{"role": role} for role in roles]})


class TeamPermissionListView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="listRepoTeamPermissions", summary="Teams with a permission (admin)", parameters=[REPO_PATH], responses=TeamPermissionListSerializer)
    def get(self, request: Request, repository: str) -> Response:
        repo = repository_for_management(request, repository, Action.ADMIN)
        return Response({"permissions": {p.team.name: _team_item(p) for p in repository_team_permissions(repository=repo) if p.team is not None}})


class TeamPermissionView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="getTeamPermissions", summary="The role of a team (admin)", parameters=[REPO_PATH, TEAMNAME], responses=RoleSerializer)
    def get(self, request: Request, repository: str, teamname: str) -> Response:
        repo = repository_for_management(request, repository, Action.ADMIN)
        team = _team(repo, teamname, for_write=False)
        permission = repository_team_permission(repository=repo, team=team)
        if permission is None:
            raise NotFound(f"team {teamname} has no permission on {repo.full_name}")
        return Response({"role": permission.role})

    @extend_schema(
        operation_id="changeTeamPermissions",
        summary="Grant or change the role of a team (admin)",
        parameters=[REPO_PATH, TEAMNAME],
        request=RoleSerializer,
        responses=TeamPermissionSerializer,
        examples=[_ROLE_EXAMPLE],
    )
    def put(self, request: Request, repository: str, teamname: str) -> Response:
        repo = repository_for_management(request, repository, Action.ADMIN)
        role = _role(request)
        team = _team(repo, teamname, for_write=True)
        permission = repository_permission_change(repository=repo, role=role, team=team, actor=principal_of(request), request=request_info(request))
        return Response(_team_item(permission))

    @extend_schema(
        operation_id="deleteTeamPermissions", summary="Revoke the permission of a team (admin)", parameters=[REPO_PATH, TEAMNAME], request=None, responses={204: _DELETED})
    def delete(self, request: Request, repository: str, teamname: str) -> Response:
        repo = repository_for_management(request, repository, Action.ADMIN)
        team = _team(repo, teamname, for_write=False)
        repository_permission_delete(repository=repo, team=team, actor=principal_of(request), request=request_info(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
