"""Teams, their members and the repository permissions they hold."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Robot, User
from common.errors import InvalidRequestError
from organizations.models import Team
from organizations.selectors import team_find, team_members, team_names_of
from organizations.services import team_delete, team_member_add, team_member_remove, team_upsert
from repositories.api.organizations.common import (
    NO_CONTENT,
    OrgCaller,
    audit,
    member_lookup,
    org_caller,
    permission_body,
    require_org_admin,
)
from repositories.api.organizations.serializers import (
    RepositoryPermissionListSerializer,
    TeamMemberListSerializer,
    TeamMemberSerializer,
    TeamSerializer,
    TeamUpdateSerializer,
)
from repositories.models import RepositoryPermission


def team_member_body(user: User | None, robot: Robot | None) -> dict[str, Any]:
    name = user.username if user is not None else robot.username  # type: ignore[union-attr]
    return {"name": name, "kind": "user", "is_robot": robot is not None, "invited": False}


def team_or_404(caller: OrgCaller, teamname: str) -> Team:
    team = team_find(organization=caller.organization, name=teamname)
    if team is None:
        raise NotFound(f"team {teamname} not found in {caller.organization.name}")
    return team


class TeamView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="updateOrganizationTeam",
        summary="Create a team or change its role and description",
        request=TeamUpdateSerializer,
        responses=TeamSerializer,
        examples=[OpenApiExample("builders", value={"role": "creator", "description": "CI pipelines"}, request_only=True)],
    )
    def put(self, request: Request, orgname: str, teamname: str) -> Response:
        caller = org_caller(request, orgname)
        require_org_admin(caller, write=True)
        serializer = TeamUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        role, description = serializer.validated_data["role"], serializer.validated_data.get("description")
        before = team_find(organization=caller.organization, name=teamname)
        with transaction.atomic():
            team = team_upsert(organization=caller.organization, name=teamname, role=role, description=description)
            if before is None:
                audit(request, "org_create_team", orgname, team=teamname)
            else:
                if description is not None and description != before.description:
                    audit(request, "org_set_team_description", orgname, team=teamname, description=description)
                if role != before.role:
                    audit(request, "org_set_team_role", orgname, team=teamname, role=role)
        body = {"name": team.name, "description": team.description, "can_view": True, "role": team.role, "new_team": before is None}
        return Response(body)

    @extend_schema(
        operation_id="deleteOrganizationTeam",
        summary="Delete a team (never the owners team)",
        responses={**NO_CONTENT, 400: OpenApiResponse(description="the owners team cannot be deleted")},
    )
    def delete(self, request: Request, orgname: str, teamname: str) -> Response:
        caller = org_caller(request, orgname)
        require_org_admin(caller, write=True)
        team = team_or_404(caller, teamname)
        with transaction.atomic():
            team_delete(team=team)
            audit(request, "org_delete_team", orgname, team=teamname)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TeamMemberListView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="getOrganizationTeamMembers",
        summary="A team's members (people and robots); for its members, organization admins and superusers",
        responses=TeamMemberListSerializer,
    )
    def get(self, request: Request, orgname: str, teamname: str) -> Response:
        caller = org_caller(request, orgname)
        principal = caller.principal
        if not principal.has_api_scope("org:admin"):
            raise PermissionDenied("this API token lacks the org:admin scope")
        if not caller.sees_everything and teamname not in team_names_of(principal, organization=caller.organization):
            raise PermissionDenied("only the team's members and the organization's administrators may list it")
        team = team_or_404(caller, teamname)
        members = [team_member_body(m.user, m.robot) for m in team_members(team=team)]
        can_edit = caller.is_admin or caller.principal.is_superuser
        return Response({"name": team.name, "members": members, "can_edit": can_edit})


class TeamMemberView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="updateOrganizationTeamMember",
        summary='Add a user, or a robot of the organization ("org+robot"), to a team',
        request=None,
        responses=TeamMemberSerializer,
    )
    def put(self, request: Request, orgname: str, teamname: str, membername: str) -> Response:
        caller = org_caller(request, orgname)
        require_org_admin(caller, write=True)
        team = team_or_404(caller, teamname)
        member = member_lookup(membername)
        if member is None:
            raise InvalidRequestError("Unknown user", detail={"member": membername})
        user, robot = (member, None) if isinstance(member, User) else (None, member)
        with transaction.atomic():
            team_member_add(team=team, user=user, robot=robot)
            audit(request, "org_add_team_member", orgname, member=membername, team=teamname)
        return Response(team_member_body(user, robot))

    @extend_schema(operation_id="deleteOrganizationTeamMember", summary="Take a user or robot out of a team", responses=NO_CONTENT)
    def delete(self, request: Request, orgname: str, teamname: str, membername: str) -> Response:
        caller = org_caller(request, orgname)
        require_org_admin(caller, write=True)
        team = team_or_404(caller, teamname)
        member = member_lookup(membername)
        user, robot = (member, None) if isinstance(member, User) else (None, member)
        if member is None or not team.members.filter(user=user, robot=robot).exists():
            raise NotFound(f"{membername} is not a member of team {teamname}")
        with transaction.atomic():
            team_member_remove(team=team, user=user, robot=robot)
            audit(request, "org_remove_team_member", orgname, member=membername, team=teamname)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TeamPermissionListView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="getOrganizationTeamPermissions", summary="The repository permissions a team holds", responses=RepositoryPermissionListSerializer)
    def get(self, request: Request, orgname: str, teamname: str) -> Response:
        caller = org_caller(request, orgname)
        require_org_admin(caller, write=False)
        team = team_or_404(caller, teamname)
        permissions = RepositoryPermission.objects.filter(team=team).select_related("repository").order_by("repository__name")
        return Response({"permissions": [permission_body(p) for p in permissions]})
