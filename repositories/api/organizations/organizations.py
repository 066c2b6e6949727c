"""Organizations (create, read, change, delete) and public user information."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.authentication import principal_of
from accounts.api.permissions import IsUser
from accounts.models import User
from organizations.models import Team
from organizations.selectors import team_names_of, teams_with_counts
from organizations.services import organization_create, organization_delete, organization_update
from repositories.api.organizations.common import NO_CONTENT, OrgCaller, audit, org_caller, request_info, require_org_admin
from repositories.services.repositories import namespace_repositories_delete
from repositories.api.organizations.serializers import (
    OrganizationCreateSerializer,
    OrganizationSerializer,
    OrganizationUpdateSerializer,
    PublicUserSerializer,
)


def organization_body(caller: OrgCaller) -> dict[str, Any]:
    """Quay's ``org_view``: public fields for everyone, teams for members, settings for admins."""
    organization = caller.organization
    body: dict[str, Any] = {
        "name": organization.name,
        "email": organization.email if caller.sees_everything else "",
        "is_admin": caller.is_admin,
        "is_member": caller.is_member,
    }
    if caller.is_member or caller.sees_everything:
        teams = teams_with_counts(organization=organization)
        viewable = None if caller.sees_everything else team_names_of(caller.principal, organization=organization)
        body["teams"] = {team.name: team_summary(team, can_view=viewable is None or team.name in viewable) for team in teams}
        body["ordered_teams"] = [team.name for team in teams]
    if caller.sees_everything:
        body["tag_expiration_s"] = organization.namespace.tag_expiration_s
    return body


def team_summary(team: Team, *, can_view: bool) -> dict[str, Any]:
    return {
        "name": team.name,
        "description": team.description,
        "role": team.role,
        "can_view": can_view,
        "repo_count": team.repo_count,  # type: ignore[attr-defined]  # annotated by teams_with_counts
        "member_count": team.member_count,  # type: ignore[attr-defined]
        "is_synced": False,
    }


class OrganizationListView(APIView):
    permission_classes = [IsUser]

    @extend_schema(
        operation_id="createOrganization",
        summary="Create an organization (you join its owners team)",
        description="Any signed-in user (not a robot) may create an organization. Its `owners` team has the admin role and holds you.",
        request=OrganizationCreateSerializer,
        responses={201: OpenApiResponse(description='the JSON string "Created", as in Quay')},
        examples=[OpenApiExample("new organization", value={"name": "acme", "email": "registry@acme.test"}, request_only=True)],
    )
    def post(self, request: Request) -> Response:
        serializer = OrganizationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        name, email = serializer.validated_data["name"], serializer.validated_data.get("email", "")
        with transaction.atomic():
            organization_create(name=name, creator=request.user, email=email)
            audit(request, "org_create", name, email=email, namespace=name)
        return Response("Created", status=status.HTTP_201_CREATED)


class OrganizationDetailView(APIView):
    permission_classes = [AllowAny]

    def get_permissions(self) -> list:
        return [AllowAny()] if self.request.method == "GET" else [IsAuthenticated()]

    @extend_schema(
        operation_id="getOrganization",
        summary="An organization (teams for members, settings for admins)",
        responses=OrganizationSerializer,
        examples=[
            OpenApiExample(
                "seen by an admin",
                response_only=True,
                value={
                    "name": "acme", "email": "registry@acme.test", "is_admin": True, "is_member": True,
                    "teams": {"owners": {"name": "owners", "description": "Administrators of the organization", "role": "admin",
                                         "can_view": True, "repo_count": 0, "member_count": 1, "is_synced": False}},
                    "ordered_teams": ["owners"], "tag_expiration_s": 1209600,
                },
            )
        ],
    )
    def get(self, request: Request, orgname: str) -> Response:
        return Response(organization_body(org_caller(request, orgname)))

    @extend_schema(
        operation_id="changeOrganizationDetails",
        summary="Change the contact e-mail or the time-machine window",
        request=OrganizationUpdateSerializer,
        responses=OrganizationSerializer,
        examples=[OpenApiExample("two weeks", value={"email": "ops@acme.test", "tag_expiration_s": 1209600}, request_only=True)],
    )
    def put(self, request: Request, orgname: str) -> Response:
        caller = org_caller(request, orgname)
        require_org_admin(caller, write=True)
        serializer = OrganizationUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        organization = caller.organization
        old_email, old_expiration = organization.email, organization.namespace.tag_expiration_s
        with transaction.atomic():
            organization_update(organization=organization, email=data.get("email"), tag_expiration_s=data.get("tag_expiration_s"))
            if organization.email != old_email:
                audit(request, "org_change_email", orgname, email=organization.email, old_email=old_email, namespace=orgname)
            if "tag_expiration_s" in data and data["tag_expiration_s"] != old_expiration:
                audit(request, "org_change_tag_expiration", orgname, tag_expiration=data["tag_expiration_s"], namespace=orgname)
        return Response(organization_body(caller))

    @extend_schema(
        operation_id="deleteAdminedOrganization",
        summary="Delete an organization with its repositories (they disappear at once and are purged in the background)",
        responses={**NO_CONTENT},
    )
    def delete(self, request: Request, orgname: str) -> Response:
        caller = org_caller(request, orgname)
        require_org_admin(caller, write=True)
        with transaction.atomic():
            audit(request, "org_delete", orgname, namespace=orgname)
            namespace_repositories_delete(namespace=caller.organization.namespace, actor=principal_of(request), request=request_info(request))
            organization_delete(organization=caller.organization)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- public user information ------------------------------------------------------------------


class PublicUserView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="getUserInformation",
        summary="Public information about a user",
        responses=PublicUserSerializer,
        examples=[OpenApiExample("someone else", response_only=True, value={"anonymous": False, "username": "alice"})],
    )
    def get(self, request: Request, username: str) -> Response:
        user = User.objects.select_related("namespace").filter(username=username).first()
        if user is None:
            raise NotFound(f"user {username} not found")
        body: dict[str, Any] = {"anonymous": False, "username": user.username}
        if principal_of(request).user_id == user.pk:
            body.update(
                is_me=True, email=user.email, verified=True,
                tag_expiration_s=user.namespace.tag_expiration_s if user.namespace else 0,
            )
        return Response(body)
