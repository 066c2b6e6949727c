"""Request validation and response documentation of the repository API (Quay's field names)."""

from __future__ import annotations

from common import serializers
from organizations.models import Role
from repositories.models import Repository

MAX_DESCRIPTION = 64 * 1024


# --- requests ---------------------------------------------------------------------------------
class RepositoryCreateSerializer(serializers.Serializer):
    namespace = serializers.CharField(required=False, max_length=255, help_text="Namespace of the new repository; the caller's own when omitted.")
    repository = serializers.CharField(max_length=255, help_text="Repository name; may contain '/' (nested names).")
    visibility = serializers.ChoiceField(choices=Repository.Visibility.choices)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=MAX_DESCRIPTION, help_text="Markdown.")
    repo_kind = serializers.ChoiceField(choices=["image"], required=False, allow_null=True, help_text="Only image repositories exist here.")


class DescriptionSerializer(serializers.Serializer):
    description = serializers.CharField(allow_blank=True, max_length=MAX_DESCRIPTION, help_text="Markdown.")


class VisibilitySerializer(serializers.Serializer):
    visibility = serializers.ChoiceField(choices=Repository.Visibility.choices)


class StateSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=Repository.State.choices, help_text="NORMAL, READ_ONLY (no writes) or MIRROR (only the mirror pushes).")


class RoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class StarCreateSerializer(serializers.Serializer):
    namespace = serializers.CharField(max_length=255)
    repository = serializers.CharField(max_length=255)


# --- responses (documentation) ----------------------------------------------------------------
class SuccessSerializer(serializers.Serializer):
    success = serializers.BooleanField()


class RepositoryCreatedSerializer(serializers.Serializer):
    namespace = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.CharField()


class RepositoryListItemSerializer(serializers.Serializer):
    namespace = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    is_public = serializers.BooleanField()
    kind = serializers.CharField()
    state = serializers.ChoiceField(choices=Repository.State.choices)
    is_starred = serializers.BooleanField()
    last_modified = serializers.IntegerField(required=False, help_text="Unix time of the last change; only with last_modified=true.")


class RepositoryListSerializer(serializers.Serializer):
    repositories = RepositoryListItemSerializer(many=True)
    next_page = serializers.CharField(required=False, help_text="Opaque token for the next page; absent on the last page.")


class StarredRepositorySerializer(serializers.Serializer):
    namespace = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    is_public = serializers.BooleanField()


class StarredRepositoryListSerializer(serializers.Serializer):
    repositories = StarredRepositorySerializer(many=True)
    next_page = serializers.CharField(required=False)


class StarCreatedSerializer(serializers.Serializer):
    namespace = serializers.CharField()
    repository = serializers.CharField()


class TagSummarySerializer(serializers.Serializer):
    name = serializers.CharField()
    size = serializers.IntegerField(allow_null=True)
    last_modified = serializers.CharField(help_text="RFC 2822 date")
    expiration = serializers.CharField(required=False, help_text="RFC 2822 date; only for tags that expire")
    manifest_digest = serializers.CharField()


class RepositoryDetailSerializer(serializers.Serializer):
    namespace = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.CharField()
    description = serializers.CharField()
    is_public = serializers.BooleanField()
    is_organization = serializers.BooleanField()
    is_starred = serializers.BooleanField()
    status_token = serializers.CharField()
    trust_enabled = serializers.BooleanField()
    tag_expiration_s = serializers.IntegerField()
    is_free_account = serializers.BooleanField()
    state = serializers.ChoiceField(choices=Repository.State.choices)
    tags = serializers.DictField(child=TagSummarySerializer(), required=False, help_text="Live tags by name (at most 500); absent with includeTags=false.")
    can_write = serializers.BooleanField()
    can_admin = serializers.BooleanField()


class AvatarSerializer(serializers.Serializer):
    name = serializers.CharField()
    hash = serializers.CharField()
    color = serializers.CharField()
    kind = serializers.CharField()


class UserPermissionSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)
    name = serializers.CharField()
    is_robot = serializers.BooleanField()
    avatar = AvatarSerializer(required=False)
    is_org_member = serializers.BooleanField(required=False, help_text="Only for repositories of an organization.")


class UserPermissionListSerializer(serializers.Serializer):
    permissions = serializers.DictField(child=UserPermissionSerializer())


class TeamPermissionSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)
    name = serializers.CharField()
    avatar = AvatarSerializer()


class TeamPermissionListSerializer(serializers.Serializer):
    permissions = serializers.DictField(child=TeamPermissionSerializer())


class TransitivePermissionSerializer(serializers.Serializer):
    permissions = RoleSerializer(many=True)


class SearchNamespaceSerializer(serializers.Serializer):
    title = serializers.CharField()
    kind = serializers.CharField()
    avatar = AvatarSerializer()
    name = serializers.CharField()
    score = serializers.IntegerField()
    href = serializers.CharField()


class SearchRepositorySerializer(serializers.Serializer):
    kind = serializers.CharField()
    title = serializers.CharField()
    namespace = SearchNamespaceSerializer()
    name = serializers.CharField()
    description = serializers.CharField()
    is_public = serializers.BooleanField()
    score = serializers.IntegerField()
    href = serializers.CharField()
    last_modified = serializers.IntegerField(allow_null=True)
    stars = serializers.IntegerField()
    popularity = serializers.FloatField()


class SearchResultSerializer(serializers.Serializer):
    results = SearchRepositorySerializer(many=True)
    has_additional = serializers.BooleanField()
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    start_index = serializers.IntegerField()


class EntitySerializer(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=["user", "team", "org"])
    is_robot = serializers.BooleanField(required=False)
    is_org_member = serializers.BooleanField(required=False)
    avatar = AvatarSerializer(required=False)


class EntityListSerializer(serializers.Serializer):
    results = EntitySerializer(many=True)
