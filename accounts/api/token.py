"""``/api/v1/token/`` (obtain, refresh, verify): JWTs for scripts, optionally limited to scopes."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView, TokenVerifyView

from accounts.principals import API_SCOPES


class ScopedTokenObtainPairSerializer(TokenObtainPairSerializer):
    scope = serializers.CharField(
        required=False, allow_blank=True, write_only=True,
        help_text=f"Space-separated scopes to limit the token to: {', '.join(API_SCOPES)}. Empty: all.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        requested = (attrs.get("scope") or "").split()
        unknown = sorted(set(requested) - set(API_SCOPES))
        if unknown:
            raise serializers.ValidationError({"scope": [f"unknown scope(s): {', '.join(unknown)}"]})
        data = super().validate(attrs)
        if requested:
            refresh = self.get_token(self.user)
            refresh["scopes"] = sorted(set(requested))
            data = {"refresh": str(refresh), "access": str(refresh.access_token)}
        return data


class ScopedTokenObtainPairView(TokenObtainPairView):
    """Exchange a user name and password for an access and a refresh JWT."""

    serializer_class = ScopedTokenObtainPairSerializer


__all__ = ["ScopedTokenObtainPairView", "TokenRefreshView", "TokenVerifyView"]
