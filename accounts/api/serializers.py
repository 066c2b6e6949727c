"""Serializers of the user resources (Quay's field names)."""

from __future__ import annotations

from accounts.models import AppToken, User
from common import serializers


class UserUpdateSerializer(serializers.Serializer):
    email = serializers.EmailField(required=False)
    password = serializers.CharField(required=False, write_only=True, min_length=8, max_length=1024)
    tag_expiration_s = serializers.IntegerField(required=False, min_value=0, max_value=10 * 365 * 24 * 3600)


class AppTokenSerializer(serializers.ModelSerializer):
    uuid = serializers.UUIDField(read_only=True)
    last_accessed = serializers.DateTimeField(source="last_used", read_only=True, allow_null=True)
    expiration = serializers.DateTimeField(source="expires_at", read_only=True, allow_null=True)

    class Meta:
        model = AppToken
        fields = ["uuid", "title", "last_accessed", "created", "expiration"]


class AppTokenCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=255)
    expiration = serializers.DateTimeField(required=False, allow_null=True)


def user_summary(user: User) -> dict:
    return {"username": user.username, "email": user.email, "kind": "user"}
