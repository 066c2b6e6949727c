"""``/api/v1/token/`` (obtain, refresh, verify): JWTs for scripts, optionally limited to scopes."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView, TokenVerifyView

from accounts.principals import API_SCOPES
from accounts.throttle import login_failed, login_retry_after, login_succeeded
from common import serializers
from common.errors import TooManyRequestsError


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
        data = self._throttled_validate(attrs)
        if requested:
            refresh = self.get_token(self.user)
            refresh["scopes"] = sorted(set(requested))
            data = {"refresh": str(refresh), "access": str(refresh.access_token)}
        return data


    def _throttled_validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        """The password check, under the registry's failed-login throttling (shared with /v2,
        /v2/auth and the web sign-in, counted in the shared cache so every process sees it)."""
        username = str(attrs.get(self.username_field) or "")[:300]
        request = self.context.get("request")
        address = request.META.get("REMOTE_ADDR") if request is not None else None
        retry_after = login_retry_after(username=username, ip=address)
        if retry_after is not None:
            raise TooManyRequestsError(
                "too many failed sign-ins; try again later", detail={"retry_after": retry_after}, headers={"Retry-After": str(retry_after)}
            )
        try:
            data = super().validate(attrs)
        except AuthenticationFailed:
            login_failed(username=username, ip=address)
            raise
        login_succeeded(username=username, ip=address)
        return data


class ScopedTokenObtainPairView(TokenObtainPairView):
    """Exchange a user name and password for an access and a refresh JWT."""

    serializer_class = ScopedTokenObtainPairSerializer


__all__ = ["ScopedTokenObtainPairView", "TokenRefreshView", "TokenVerifyView"]
