"""Organization members (people and robots in its teams) and outside collaborators."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db import transaction
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Robot, User
from organizations.models import Organization
from organizations.selectors import organization_user_memberships
from organizations.services import organization_member_remove
from repositories.api.organizations.common import NO_CONTENT, audit, member_lookup, org_caller, require_org_admin
from repositories.api.organizations.serializers import CollaboratorListSerializer, MemberListSerializer, MemberSerializer
from repositories.models import RepositoryPermission


def direct_user_permissions(organization: Organization) -> dict[str, list[str]]:
    """User name -> names of the organization's repositories the user holds a direct permission on."""
    rows = (
        RepositoryPermission.objects.filter(repository__namespace_id=organization.namespace_id, user__isnull=False)
        .order_by("user__username", "repository__name")
        .values_list("user__username", "repository__name")
    )
    repositories: dict[str, list[str]] = defaultdict(list)
    for username, repository_name in rows:
        repositories[username].append(repository_name)
    return repositories


class OrganizationCollaboratorListView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="getOrganizationCollaborators",
        summary="Outside collaborators: users with direct repository permissions but in no team",
        responses=CollaboratorListSerializer,
    )
    def get(self, request: Request, orgname: str) -> Response:
        caller = org_caller(request, orgname)
        require_org_admin(caller, write=False)
        member_names = {m.user.username for m in organization_user_memberships(organization=caller.organization)}
        collaborators = [
            {"kind": "user", "name": username, "repositories": repositories}
            for username, repositories in direct_user_permissions(caller.organization).items()
            if username not in member_names
        ]
        return Response({"collaborators": collaborators})


class OrganizationMemberListView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="getOrganizationMembers",
        summary="The people in the organization's teams, with their teams and direct repository permissions",
        responses=MemberListSerializer,
        examples=[
            OpenApiExample(
                "members",
                response_only=True,
                value={"members": [{"name": "alice", "kind": "user", "teams": [{"name": "owners"}], "repositories": ["app"]}]},
            )
        ],
    )
    def get(self, request: Request, orgname: str) -> Response:
        caller = org_caller(request, orgname)
        require_org_admin(caller, write=False)
        members: dict[str, dict[str, Any]] = {}
        for membership in organization_user_memberships(organization=caller.organization):
            username = membership.user.username
            member = members.setdefault(username, {"name": username, "kind": "user", "teams": [], "repositories": []})
            member["teams"].append({"name": membership.team.name})
        for username, repositories in direct_user_permissions(caller.organization).items():
            if username in members:
                members[username]["repositories"] = repositories
        return Response({"members": list(members.values())})


class OrganizationMemberView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="getOrganizationMember", summary="One member: their teams and direct repository permissions", responses=MemberSerializer)
    def get(self, request: Request, orgname: str, membername: str) -> Response:
        caller = org_caller(request, orgname)
        require_org_admin(caller, write=False)
        member = member_lookup(membername)
        organization = caller.organization
        if isinstance(member, User):
            teams = [m.team.name for m in organization_user_memberships(organization=organization, user=member)]
            if not teams:
                raise NotFound(f"{membername} is not a member of {orgname}")
            grants = RepositoryPermission.objects.filter(repository__namespace_id=organization.namespace_id, user=member)
            kind = "user"
        elif isinstance(member, Robot) and member.namespace_id == organization.namespace_id:
            teams = sorted(member.team_memberships.values_list("team__name", flat=True))
            grants = RepositoryPermission.objects.filter(robot=member)
            kind = "robot"
        else:
            raise NotFound(f"{membername} is not a member of {orgname}")
        repositories = list(grants.order_by("repository__name").values_list("repository__name", flat=True))
        return Response({"name": membername, "kind": kind, "teams": [{"name": name} for name in teams], "repositories": repositories})

    @extend_schema(
        operation_id="removeOrganizationMember",
        summary="Remove a person from every team and revoke their direct permissions on the organization's repositories",
        responses={**NO_CONTENT, 409: OpenApiResponse(description="they are the organization's last administrator")},
    )
    def delete(self, request: Request, orgname: str, membername: str) -> Response:
        caller = org_caller(request, orgname)
        require_org_admin(caller, write=True)
        user = User.objects.filter(username=membername).first()
        if user is None:
            raise NotFound(f"user {membername} not found")
        with transaction.atomic():
            teams = organization_member_remove(organization=caller.organization, user=user)
            audit(request, "org_remove_member", orgname, member=membername, teams=teams)
        return Response(status=status.HTTP_204_NO_CONTENT)
