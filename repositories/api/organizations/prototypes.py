"""Default permissions ("prototypes"): grants given to every repository created later."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Robot, User
from common.errors import InvalidRequestError
from organizations.models import Prototype
from organizations.selectors import organization_member_ids, prototype_find, prototypes_of, team_find
from organizations.services import prototype_create, prototype_delete, prototype_update
from repositories.api.organizations.common import NO_CONTENT, OrgCaller, audit, member_lookup, org_caller, require_org_admin
from repositories.api.organizations.serializers import (
    PrototypeCreateSerializer,
    PrototypeListSerializer,
    PrototypeSerializer,
    PrototypeUpdateSerializer,
)


def prototype_body(prototype: Prototype, member_ids: set[int]) -> dict[str, Any]:
    """Quay's ``prototype_view``: robots appear as ``kind: "user"`` with ``is_robot: true``."""

    def user_view(user: User) -> dict[str, Any]:
        return {"name": user.username, "is_robot": False, "kind": "user", "is_org_member": user.pk in member_ids}

    if prototype.delegate_user is not None:
        delegate = user_view(prototype.delegate_user)
    elif prototype.delegate_robot is not None:
        delegate = {"name": prototype.delegate_robot.username, "is_robot": True, "kind": "user", "is_org_member": True}
    else:
        delegate = {"name": prototype.delegate_team.name, "kind": "team"}  # type: ignore[union-attr]
    return {
        "activating_user": user_view(prototype.activating_user) if prototype.activating_user else None,
        "delegate": delegate,
        "role": prototype.role,
        "id": str(prototype.uuid),
    }


def prototype_audit_metadata(prototype: Prototype, **extra: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "prototypeid": str(prototype.uuid),
        "activating_username": prototype.activating_user.username if prototype.activating_user else None,
        "role": prototype.role,
        **extra,
    }
    if prototype.delegate_user is not None:
        metadata["delegate_user"] = prototype.delegate_user.username
    elif prototype.delegate_robot is not None:
        metadata["delegate_user"] = prototype.delegate_robot.username
    elif prototype.delegate_team is not None:
        metadata["delegate_team"] = prototype.delegate_team.name
    return metadata


class PrototypeListView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="getOrganizationPrototypePermissions", summary="The organization's default permissions", responses=PrototypeListSerializer)
    def get(self, request: Request, orgname: str) -> Response:
        caller = org_caller(request, orgname)
        require_org_admin(caller, write=False)
        member_ids = organization_member_ids(organization=caller.organization)
        return Response({"prototypes": [prototype_body(p, member_ids) for p in prototypes_of(organization=caller.organization)]})

    @extend_schema(
        operation_id="createOrganizationPrototypePermission",
        summary="Add a default permission, granted on every repository created in the organization later",
        description=(
            "`delegate.kind` is `user` (a user, or a robot named `org+robot` as in Quay), `robot` or `team`. "
            "With `activating_user` the rule applies only to repositories that user creates."
        ),
        request=PrototypeCreateSerializer,
        responses=PrototypeSerializer,
        examples=[
            OpenApiExample(
                "team gets write",
                request_only=True,
                value={"role": "write", "delegate": {"kind": "team", "name": "builders"}, "activating_user": {"name": "alice"}},
            )
        ],
    )
    def post(self, request: Request, orgname: str) -> Response:
        caller = org_caller(request, orgname)
        require_org_admin(caller, write=True)
        serializer = PrototypeCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        activating_user = None
        if data.get("activating_user"):
            activating_user = User.objects.filter(username=data["activating_user"]["name"]).first()
            if activating_user is None:
                raise InvalidRequestError("Unknown activating user", detail={"activating_user": data["activating_user"]["name"]})
        delegate_kind, delegate_name = data["delegate"]["kind"], data["delegate"]["name"]
        delegate_user = delegate_robot = delegate_team = None
        if delegate_kind == "team":
            delegate_team = team_find(organization=caller.organization, name=delegate_name)
        else:
            found = member_lookup(delegate_name)
            if isinstance(found, Robot):
                delegate_robot = found
            elif isinstance(found, User) and delegate_kind == "user":
                delegate_user = found
        if delegate_user is None and delegate_robot is None and delegate_team is None:
            raise InvalidRequestError("Missing delegate user or team", detail={"delegate": delegate_name})
        with transaction.atomic():
            prototype = prototype_create(
                organization=caller.organization, role=data["role"], delegate_user=delegate_user, delegate_robot=delegate_robot,
                delegate_team=delegate_team, activating_user=activating_user,
            )
            audit(request, "create_prototype_permission", orgname, **prototype_audit_metadata(prototype))
        return Response(prototype_body(prototype, organization_member_ids(organization=caller.organization)))


class PrototypeView(APIView):
    permission_classes = [IsAuthenticated]

    def prototype_or_404(self, caller: OrgCaller, prototypeid: str) -> Prototype:
        prototype = prototype_find(organization=caller.organization, uuid=prototypeid)
        if prototype is None:
            raise NotFound(f"default permission {prototypeid} not found")
        return prototype

    @extend_schema(
        operation_id="updateOrganizationPrototypePermission",
        summary="Change the role a default permission grants",
        request=PrototypeUpdateSerializer,
        responses=PrototypeSerializer,
    )
    def put(self, request: Request, orgname: str, prototypeid: str) -> Response:
        caller = org_caller(request, orgname)
        require_org_admin(caller, write=True)
        prototype = self.prototype_or_404(caller, prototypeid)
        serializer = PrototypeUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        original_role = prototype.role
        with transaction.atomic():
            prototype_update(prototype=prototype, role=serializer.validated_data["role"])
            audit(request, "modify_prototype_permission", orgname, **prototype_audit_metadata(prototype, original_role=original_role))
        return Response(prototype_body(prototype, organization_member_ids(organization=caller.organization)))

    @extend_schema(
        operation_id="deleteOrganizationPrototypePermission",
        summary="Remove a default permission (repositories created earlier keep their grants)",
        responses=NO_CONTENT,
    )
    def delete(self, request: Request, orgname: str, prototypeid: str) -> Response:
        caller = org_caller(request, orgname)
        require_org_admin(caller, write=True)
        prototype = self.prototype_or_404(caller, prototypeid)
        metadata = prototype_audit_metadata(prototype)
        with transaction.atomic():
            prototype_delete(prototype=prototype)
            audit(request, "delete_prototype_permission", orgname, **metadata)
        return Response(status=status.HTTP_204_NO_CONTENT)
