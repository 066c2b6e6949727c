"""REST API authentication: browser sessions (with CSRF), JWTs from ``/api/v1/token/`` (carrying
Quay-style scopes), and app or robot tokens sent as ``Authorization: Bearer <token>``.

Each class leaves a Principal in ``request.auth``; views and permission classes read it with
``principal_of(request)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from accounts.models import AppToken, Robot
from accounts.principals import ANONYMOUS, API_SCOPES, Principal
from accounts.secrets import PREFIX_LENGTH, SECRET_LENGTH, token_matches
from accounts.services import principal_for_robot, principal_for_user


@dataclass(frozen=True)
class RobotUser:
    """What ``request.user`` is for a robot: authenticated, never staff."""

    robot: Robot
    is_authenticated: bool = True
    is_anonymous: bool = False
    is_active: bool = True
    is_staff: bool = False
    is_superuser: bool = False

    @property
    def pk(self) -> int:
        return self.robot.pk

    @property
    def username(self) -> str:
        return self.robot.username


def principal_of(request: Request) -> Principal:
    if isinstance(request.auth, Principal):
        return request.auth
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and not isinstance(user, RobotUser):
        return principal_for_user(user, "session")
    return ANONYMOUS


class SessionPrincipalAuthentication(authentication.SessionAuthentication):
    """The browsable API's session login; CSRF is enforced for unsafe methods."""

    def authenticate(self, request: Request):
        result = super().authenticate(request)
        if result is None:
            return None
        user, _ = result
        return user, principal_for_user(user, "session")


class BearerAuthentication(authentication.BaseAuthentication):
    """``Bearer <JWT>`` from ``/api/v1/token/``, or ``Bearer <app or robot token>``."""

    keyword = "Bearer"

    def authenticate(self, request: Request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        token = token.strip()
        if token.count(".") == 2:
            return self._jwt(request, token)
        if len(token) == PREFIX_LENGTH + SECRET_LENGTH:
            return self._registry_token(token)
        raise exceptions.AuthenticationFailed("invalid bearer token")

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'

    def _jwt(self, request: Request, token: str):
        jwt_auth = JWTAuthentication()
        try:
            validated = jwt_auth.get_validated_token(token.encode())
            user = jwt_auth.get_user(validated)
        except (InvalidToken, TokenError, exceptions.AuthenticationFailed) as exc:
            raise exceptions.AuthenticationFailed("invalid or expired API token") from exc
        scopes = validated.get("scopes")
        principal = principal_for_user(user, "api_token")
        if isinstance(scopes, list):
            principal = Principal(**{**principal.__dict__, "api_scopes": frozenset(s for s in scopes if s in API_SCOPES)})
        return user, principal

    def _registry_token(self, token: str):
        prefix = token[:PREFIX_LENGTH]
        app_token = AppToken.objects.select_related("user").filter(token_prefix=prefix).first()
        if app_token is not None and token_matches(token, app_token.token_hash):
            if app_token.expires_at is not None and app_token.expires_at <= timezone.now():
                raise exceptions.AuthenticationFailed("app token expired")
            if not app_token.user.is_active:
                raise exceptions.AuthenticationFailed("user is disabled")
            return app_token.user, principal_for_user(app_token.user, "app_token")
        robot = Robot.objects.select_related("namespace").filter(token_prefix=prefix).first()
        if robot is not None and token_matches(token, robot.token_hash):
            return RobotUser(robot), principal_for_robot(robot)
        raise exceptions.AuthenticationFailed("invalid bearer token")


__all__ = ["BearerAuthentication", "RobotUser", "SessionPrincipalAuthentication", "principal_of"]


class _BearerScheme(OpenApiAuthenticationExtension):
    target_class = BearerAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A JWT from /api/v1/token/, or an app token or robot token.",
        }


class _SessionScheme(OpenApiAuthenticationExtension):
    target_class = SessionPrincipalAuthentication
    name = "cookieAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}
