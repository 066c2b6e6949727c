"""Quay's organization API under ``/api/v1/organization/``: organizations, members and outside
collaborators, teams and their members, default permissions ("prototypes"); and public user
information under ``/api/v1/users/<username>``.

Who may do what (Quay's rules; roles come only from teams, see organizations.selectors):

* anyone may read an organization's public summary; its members also see its teams;
* organization admins (users in an admin team) and superusers may read members, collaborators,
  team permissions and default permissions (global read-only superusers too) and change anything;
* a team's members may list that team's members;
* writes need a user, never a robot, and an API token (if any) with the ``org:admin`` scope.

These views live in the repositories app because they write audit-log entries and read
repository permissions (organizations may not import repositories). Every write calls one
service and records one audit entry in the same transaction.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import NotAuthenticated, NotFound, PermissionDenied
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.authentication import principal_of
from accounts.api.permissions import IsUser
from accounts.models import Robot, User
from accounts.principals import Principal
from common.errors import InvalidRequestError
from organizations.models import Organization, Prototype, Role, Team
from organizations.selectors import (
    organization_find,
    organization_member_ids,
    organization_role_of,
    organization_user_memberships,
    prototype_find,
    prototypes_of,
    team_find,
    team_members,
    team_names_of,
    teams_with_counts,
)
from organizations.services import (
    organization_create,
    organization_delete,
    organization_member_remove,
    organization_update,
    prototype_create,
    prototype_delete,
    prototype_update,
    team_delete,
    team_member_add,
    team_member_remove,
    team_upsert,
)
from repositories.models import RepositoryPermission
from repositories.services.audit import RequestInfo, audit_log

#: the largest time-machine window an organization may set (as for users)
MAX_TAG_EXPIRATION_S = 10 * 365 * 24 * 3600
_NO_CONTENT = {204: OpenApiResponse(description="done; no body")}


# --- who is asking --------------------------------------------------------------------------


@dataclass(frozen=True)
class OrgCaller:
    """The caller and the organization named in the path, with the caller's strongest team role."""

    principal: Principal
    organization: Organization
    role: str | None

    @property
    def is_admin(self) -> bool:
        """An organization administrator: a user (robots never administer) in an admin team."""
        return self.principal.kind == "user" and self.role == Team.TeamRole.ADMIN

    @property
    def is_member(self) -> bool:
        return self.role is not None

    @property
    def sees_everything(self) -> bool:
        """Admins and (read-only) superusers read every detail of the organization."""
        return self.is_admin or self.principal.is_superuser or self.principal.is_readonly_superuser


def org_caller(request: Request, orgname: str) -> OrgCaller:
    """The organization ``orgname`` (404 when there is none) and who is asking."""
    organization = organization_find(name=orgname)
    if organization is None:
        raise NotFound(f"organization {orgname} not found")
    principal = principal_of(request)
    return OrgCaller(principal, organization, organization_role_of(principal, namespace_id=organization.namespace_id))


def require_org_admin(caller: OrgCaller, *, write: bool) -> None:
    """Organization admin or superuser (a global read-only superuser when ``write`` is False),
    with the ``org:admin`` API scope; 401 for anonymous callers, 403 otherwise."""
    principal = caller.principal
    if principal.is_anonymous:
        raise NotAuthenticated()
    if not principal.has_api_scope("org:admin"):
        raise PermissionDenied("this API token lacks the org:admin scope")
    if caller.is_admin or principal.is_superuser or (not write and principal.is_readonly_superuser):
        return
    raise PermissionDenied("organization administrator access required")


def request_info(request: Any) -> RequestInfo:
    return RequestInfo.of(request)


def audit(request: Request, kind: str, namespace_name: str, **metadata: Any) -> None:
    """One audit-log entry for a change made through the API (never pass a secret here)."""
    audit_log(kind=kind, principal=principal_of(request), namespace_name=namespace_name, request=request_info(request), metadata=metadata)


def member_lookup(name: str) -> User | Robot | None:
    """A user, or a robot when the name has the ``namespace+short`` form."""
    if "+" in name:
        namespace_name, _, shortname = name.partition("+")
        return Robot.objects.select_related("namespace").filter(namespace__name=namespace_name, shortname=shortname).first()
    return User.objects.filter(username=name).first()


# --- serializers (request bodies, and response shapes for the schema) ------------------------


@extend_schema_field(
    {"type": "string", "pattern": f"^({'|'.join(Team.TeamRole.values)})$", "description": f"team role: {', '.join(Team.TeamRole.values)}"}
)
class TeamRoleField(serializers.ChoiceField):
    """A team role. Described by a pattern, not an enum: the schema's enum components are named by
    field name, and ``role`` already names the repository roles (read, write, admin)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=Team.TeamRole.choices, **kwargs)


class OrganizationCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255, help_text="Organization name (shares one name space with users)")
    email = serializers.EmailField(required=False, allow_blank=True, help_text="Organization contact e-mail")


class OrganizationUpdateSerializer(serializers.Serializer):
    email = serializers.EmailField(required=False, allow_blank=True, help_text="Organization contact e-mail")
    tag_expiration_s = serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_TAG_EXPIRATION_S, help_text="Time-machine window: seconds ended tags stay restorable"
    )


class TeamSummarySerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    role = TeamRoleField()
    can_view = serializers.BooleanField(help_text="whether the caller may list the team's members")
    repo_count = serializers.IntegerField()
    member_count = serializers.IntegerField()
    is_synced = serializers.BooleanField(help_text="always false: no directory syncing here")


class OrganizationSerializer(serializers.Serializer):
    name = serializers.CharField()
    email = serializers.CharField(help_text="empty unless the caller administers the organization")
    is_admin = serializers.BooleanField()
    is_member = serializers.BooleanField()
    teams = serializers.DictField(child=TeamSummarySerializer(), required=False, help_text="members only: team name -> team")
    ordered_teams = serializers.ListField(child=serializers.CharField(), required=False, help_text="members only")
    tag_expiration_s = serializers.IntegerField(required=False, help_text="admins only")


class NamedSerializer(serializers.Serializer):
    name = serializers.CharField()


class MemberSerializer(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=["user", "robot"])
    teams = NamedSerializer(many=True)
    repositories = serializers.ListField(child=serializers.CharField(), help_text="repositories with a direct permission")


class MemberListSerializer(serializers.Serializer):
    members = MemberSerializer(many=True)


class CollaboratorSerializer(serializers.Serializer):
    kind = serializers.CharField()
    name = serializers.CharField()
    repositories = serializers.ListField(child=serializers.CharField())


class CollaboratorListSerializer(serializers.Serializer):
    collaborators = CollaboratorSerializer(many=True)


class TeamUpdateSerializer(serializers.Serializer):
    role = TeamRoleField()
    description = serializers.CharField(required=False, allow_blank=True, max_length=10_000)


class TeamSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    can_view = serializers.BooleanField()
    role = TeamRoleField()
    new_team = serializers.BooleanField()


class TeamMemberSerializer(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.CharField(help_text='always "user" (robots too, as in Quay; see is_robot)')
    is_robot = serializers.BooleanField()
    invited = serializers.BooleanField(help_text="always false: members are added directly")


class TeamMemberListSerializer(serializers.Serializer):
    name = serializers.CharField()
    members = TeamMemberSerializer(many=True)
    can_edit = serializers.BooleanField()


class PermissionRepositorySerializer(serializers.Serializer):
    name = serializers.CharField(help_text="repository name inside the namespace")
    is_public = serializers.BooleanField()


class RepositoryPermissionSerializer(serializers.Serializer):
    repository = PermissionRepositorySerializer()
    role = serializers.ChoiceField(choices=Role.choices)


class RepositoryPermissionListSerializer(serializers.Serializer):
    permissions = RepositoryPermissionSerializer(many=True)


class PrototypeDelegateInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=300, help_text='a user name, a robot name ("org+robot") or a team name')
    kind = serializers.ChoiceField(choices=["user", "team", "robot"], help_text='"user" also accepts robot names, as in Quay')


class PrototypeActivatingUserInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=150)


class PrototypeCreateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)
    delegate = PrototypeDelegateInputSerializer()
    activating_user = PrototypeActivatingUserInputSerializer(required=False, allow_null=True)


class PrototypeUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class PrototypeUserSerializer(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.CharField(help_text='"user" for users and robots (see is_robot); "team" for teams')
    is_robot = serializers.BooleanField(required=False)
    is_org_member = serializers.BooleanField(required=False)


class PrototypeSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    role = serializers.ChoiceField(choices=Role.choices)
    delegate = PrototypeUserSerializer()
    activating_user = PrototypeUserSerializer(allow_null=True)


class PrototypeListSerializer(serializers.Serializer):
    prototypes = PrototypeSerializer(many=True)


class PublicUserSerializer(serializers.Serializer):
    anonymous = serializers.BooleanField()
    username = serializers.CharField()
    is_me = serializers.BooleanField(required=False, help_text="only when you ask about yourself")
    email = serializers.EmailField(required=False, help_text="only when you ask about yourself")
    verified = serializers.BooleanField(required=False)
    tag_expiration_s = serializers.IntegerField(required=False)


# --- bodies -----------------------------------------------------------------------------------


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


def permission_body(permission: RepositoryPermission) -> dict[str, Any]:
    repository = permission.repository
    return {"repository": {"name": repository.name, "is_public": repository.visibility == repository.Visibility.PUBLIC}, "role": permission.role}


def team_member_body(user: User | None, robot: Robot | None) -> dict[str, Any]:
    name = user.username if user is not None else robot.username  # type: ignore[union-attr]
    return {"name": name, "kind": "user", "is_robot": robot is not None, "invited": False}


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


# --- organizations ----------------------------------------------------------------------------


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
        summary="Delete an organization (refused with 409 while it has repositories)",
        responses={**_NO_CONTENT, 409: OpenApiResponse(description="the organization still has repositories")},
    )
    def delete(self, request: Request, orgname: str) -> Response:
        caller = org_caller(request, orgname)
        require_org_admin(caller, write=True)
        with transaction.atomic():
            audit(request, "org_delete", orgname, namespace=orgname)
            organization_delete(organization=caller.organization)
        return Response(status=status.HTTP_204_NO_CONTENT)


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
        responses={**_NO_CONTENT, 409: OpenApiResponse(description="they are the organization's last administrator")},
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


# --- teams ------------------------------------------------------------------------------------


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
        responses={**_NO_CONTENT, 400: OpenApiResponse(description="the owners team cannot be deleted")},
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

    @extend_schema(operation_id="deleteOrganizationTeamMember", summary="Take a user or robot out of a team", responses=_NO_CONTENT)
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


# --- default permissions ----------------------------------------------------------------------


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
        responses=_NO_CONTENT,
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
