"""Request bodies, and response shapes for the schema, of the organization API."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field

from common import serializers
from organizations.models import Role, Team

#: the largest time-machine window an organization may set (as for users)
MAX_TAG_EXPIRATION_S = 10 * 365 * 24 * 3600


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
