"""``/api/v1/user/``: the signed-in user (Quay's shape, with their organizations)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.permissions import IsUser
from accounts.api.serializers import UserUpdateSerializer
from accounts.models import User
from accounts.services import user_delete, user_update
from common import serializers
from organizations.models import Organization, Team

_UserResponse = inline_serializer(
    "CurrentUser",
    {
        "anonymous": serializers.BooleanField(),
        "username": serializers.CharField(),
        "email": serializers.EmailField(),
        "verified": serializers.BooleanField(),
        "super_user": serializers.BooleanField(),
        "global_readonly_super_user": serializers.BooleanField(),
        "can_create_repo": serializers.BooleanField(),
        "tag_expiration_s": serializers.IntegerField(),
        "organizations": serializers.ListField(child=serializers.DictField()),
    },
)


def current_user_body(user: User) -> dict:
    organizations = []
    teams = Team.objects.filter(members__user=user).select_related("organization__namespace")
    roles: dict[int, set[str]] = {}
    for team in teams:
        roles.setdefault(team.organization_id, set()).add(team.role)
    for organization in Organization.objects.filter(pk__in=roles).select_related("namespace").order_by("namespace__name"):
        org_roles = roles[organization.pk]
        organizations.append(
            {
                "name": organization.name,
                "is_org_admin": Team.TeamRole.ADMIN in org_roles,
                "can_create_repo": bool(org_roles & {Team.TeamRole.ADMIN, Team.TeamRole.CREATOR}),
                "preferred_namespace": False,
            }
        )
    return {
        "anonymous": False,
        "username": user.username,
        "email": user.email,
        "verified": True,
        "super_user": user.is_superuser,
        "global_readonly_super_user": user.is_global_readonly_superuser,
        "can_create_repo": True,
        "tag_expiration_s": user.namespace.tag_expiration_s if user.namespace else 0,
        "organizations": organizations,
    }


class CurrentUserView(APIView):
    permission_classes = [IsUser]

    @extend_schema(operation_id="getLoggedInUser", responses=_UserResponse, summary="The signed-in user")
    def get(self, request: Request) -> Response:
        return Response(current_user_body(request.user))

    @extend_schema(operation_id="changeUserDetails", request=UserUpdateSerializer, responses=_UserResponse, summary="Update e-mail, password or time-machine window")
    def put(self, request: Request) -> Response:
        serializer = UserUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = user_update(user=request.user, **serializer.validated_data)
        user.refresh_from_db()
        return Response(current_user_body(user))

    @extend_schema(operation_id="deleteUser", responses={204: OpenApiResponse(description="deleted")}, summary="Delete your account")
    def delete(self, request: Request) -> Response:
        user_delete(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
