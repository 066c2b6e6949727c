"""``/v2/auth``: the Docker token service (GET) and its OAuth2 variant (POST) used by containerd
and docker for password and refresh-token grants."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from accounts.models import AppToken, Robot, User
from accounts.principals import ANONYMOUS, Principal
from accounts.registry_tokens import InvalidTokenError, token_issue, token_verify
from accounts.secrets import PREFIX_LENGTH
from accounts.services import principal_reload
from common.errors import InvalidRequestError, RegistryError, TooManyRequestsError, UnauthorizedError
from common.grammar import validate_repository_name
from oci.auth import BASIC_REALM, parse_basic, request_info, service_name, verify_credentials
from oci.responses import error_response
from repositories.access import Action, is_allowed
from repositories.selectors import repository_find
from repositories.services.audit import audit_log
from repositories.services.repositories import repository_get_or_create

_SCOPE_RE = re.compile(r"^repository(?:\([a-z]+\))?:(?P<name>[^:]{1,255}):(?P<actions>[a-z*]+(?:,[a-z*]+)*)$")
_KNOWN_ACTIONS = {"pull", "push", "delete", "*"}


@dataclass(frozen=True)
class Scope:
    kind: str  # "repository" | "registry"
    name: str
    actions: tuple[str, ...]


def parse_scopes(raw_values: list[str]) -> list[Scope]:
    """``repository:<name>:<actions>`` and ``registry:catalog:*``; several per parameter allowed
    (space separated). Raises INVALID_REQUEST for anything else."""
    scopes = []
    for value in raw_values:
        for item in value.split():
            if item == "registry:catalog:*":
                scopes.append(Scope("registry", "catalog", ("*",)))
                continue
            match = _SCOPE_RE.match(item)
            if not match:
                raise InvalidRequestError("invalid scope", detail={"scope": item[:300]})
            validate_repository_name(match.group("name"))
            actions = tuple(dict.fromkeys(match.group("actions").split(",")))
            unknown = set(actions) - _KNOWN_ACTIONS
            if unknown:
                raise InvalidRequestError("unknown action in scope", detail={"scope": item[:300], "actions": sorted(unknown)})
            scopes.append(Scope("repository", match.group("name"), actions))
    return scopes


def _granted_actions(principal: Principal, scope: Scope) -> list[str]:
    """requested ∩ allowed. ``*`` is granted whole to admins, else split into what is allowed."""
    repository = repository_find(name=scope.name)
    granted: list[str] = []
    for action in scope.actions:
        if action == "*":
            # "*" includes push: with pushes disabled registry-wide, only its allowed parts are granted
            if is_allowed(principal, Action.ADMIN, repository, name=scope.name) and is_allowed(principal, Action.PUSH, repository, name=scope.name):
                granted.append("*")
                continue
            candidates = ["pull", "push", "delete"]
        else:
            candidates = [action]
        for candidate in candidates:
            if candidate not in granted and is_allowed(principal, Action(candidate), repository, name=scope.name):
                granted.append(candidate)
    return granted


def _context(principal: Principal) -> dict:
    return {
        "kind": principal.kind, "id": principal.id, "name": principal.name, "superuser": principal.is_superuser,
        "readonly_superuser": principal.is_readonly_superuser, "namespace_id": principal.namespace_id,
    }


def _credential_version(principal: Principal) -> str:
    """Changes when the password or robot token changes, so refresh tokens die with them."""
    if principal.kind == "user":
        secret = User.objects.filter(pk=principal.id).values_list("password", flat=True).first() or ""
    elif principal.kind == "robot":
        secret = Robot.objects.filter(pk=principal.id).values_list("token_hash", flat=True).first() or ""
    else:
        secret = ""
    return hmac.new(settings.SECRET_KEY.encode(), secret.encode(), hashlib.sha256).hexdigest()[:24]


def issue_for(request: HttpRequest, principal: Principal, scopes: list[Scope]) -> tuple[dict, list[dict]]:
    access = []
    for scope in scopes:
        if scope.kind == "registry":
            if is_allowed(principal, Action.CATALOG):
                access.append({"type": "registry", "name": "catalog", "actions": ["*"]})
            continue
        granted = _granted_actions(principal, scope)
        if ("push" in granted or "*" in granted) and repository_find(name=scope.name) is None:
            # Pushing creates the repository (private, creator is admin); then grant again,
            # since pull on a repository that did not exist was refused a moment ago.
            repository = repository_get_or_create(name=scope.name, creator=principal)
            audit_log(kind="create_repo", principal=principal, repository=repository, request=request_info(request))
            granted = _granted_actions(principal, scope)
        access.append({"type": "repository", "name": scope.name, "actions": granted})
    issued = token_issue(subject=principal.name, audience=service_name(request), access=access, context=_context(principal))
    body = {
        "token": issued.token,
        "access_token": issued.token,
        "expires_in": issued.expires_in,
        "issued_at": issued.issued_at.isoformat().replace("+00:00", "Z"),
    }
    return body, access


def refresh_token_for(request: HttpRequest, principal: Principal, secret: str) -> str:
    """A refresh token that dies with the credential behind it: the password or robot token
    (``cv``) and, for a login with an app token, that app token (``app``, its row id)."""
    context = {**_context(principal), "cv": _credential_version(principal)}
    if principal.via == "app_token":
        app_token_id = AppToken.objects.filter(token_prefix=secret[:PREFIX_LENGTH], user_id=principal.id).values_list("pk", flat=True).first()
        context["app"] = app_token_id or 0  # 0 matches no row: fail closed if it vanished meanwhile
    return token_issue(
        subject=principal.name, audience=service_name(request), access=[], context=context,
        lifetime_s=settings.MOORAGE_AUTH["refresh_token_lifetime_s"], token_type="refresh",
    ).token


def _app_token_alive(app_token_id: object, user_id: int | None) -> bool:
    if not isinstance(app_token_id, int):
        return False
    unexpired = Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
    return AppToken.objects.filter(unexpired, pk=app_token_id, user_id=user_id).exists()


def _oauth_error(error: str, description: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": error, "error_description": description}, status=status)


@method_decorator(csrf_exempt, name="dispatch")
class TokenView(View):
    http_method_names = ["get", "post"]

    def get(self, request: HttpRequest) -> HttpResponse:
        try:
            scopes = parse_scopes(request.GET.getlist("scope"))
            principal, secret = ANONYMOUS, ""
            header = request.META.get("HTTP_AUTHORIZATION", "")
            if header:
                credentials = parse_basic(header)
                if credentials is None:
                    raise UnauthorizedError("the token service takes HTTP Basic credentials")
                principal, secret = verify_credentials(request, *credentials), credentials[1]
            elif not scopes:
                raise UnauthorizedError("authentication required")
            body, access = issue_for(request, principal, scopes)
            if not principal.is_anonymous:
                audit_log(kind="login_success", principal=principal, request=request_info(request), metadata={"via": principal.via, "access": access})
                if request.GET.get("offline_token") == "true":
                    body["refresh_token"] = refresh_token_for(request, principal, secret)
            return JsonResponse(body)
        except RegistryError as error:
            if isinstance(error, UnauthorizedError):
                # The token service itself takes Basic credentials: never send the client to a
                # Bearer realm that is this very endpoint.
                error.headers["WWW-Authenticate"] = f'Basic realm="{BASIC_REALM}"'
            return error_response(error)

    def post(self, request: HttpRequest) -> HttpResponse:
        grant_type = request.POST.get("grant_type", "")
        try:
            scopes = parse_scopes([request.POST.get("scope", "")])
        except RegistryError as error:
            return _oauth_error("invalid_scope", error.message)
        if grant_type == "password":
            username, password = request.POST.get("username", ""), request.POST.get("password", "")
            try:
                principal = verify_credentials(request, username, password)
            except TooManyRequestsError as error:
                response = _oauth_error("slow_down", error.message, 429)
                response["Retry-After"] = error.headers["Retry-After"]
                return response
            except UnauthorizedError:
                return _oauth_error("invalid_grant", "invalid username or password")
        elif grant_type == "refresh_token":
            try:
                claims = token_verify(request.POST.get("refresh_token", ""), audience=service_name(request), token_type="refresh")
            except InvalidTokenError as exc:
                return _oauth_error("invalid_grant", f"invalid refresh token: {exc}")
            context = claims.get("context") or {}
            principal = principal_reload(Principal(kind=context.get("kind", "anonymous"), id=context.get("id"), via="refresh_token"))
            if principal is None or principal.is_anonymous or context.get("cv") != _credential_version(principal):
                return _oauth_error("invalid_grant", "the refresh token is no longer valid")
            if "app" in context and not _app_token_alive(context["app"], principal.id):
                return _oauth_error("invalid_grant", "the app token behind this refresh token was revoked or has expired")
        else:
            return _oauth_error("unsupported_grant_type", "grant_type must be password or refresh_token")

        try:
            body, access = issue_for(request, principal, scopes)
        except RegistryError as error:
            return _oauth_error("invalid_request", error.message)
        audit_log(kind="login_success", principal=principal, request=request_info(request), metadata={"via": f"oauth2:{grant_type}", "access": access})
        response = {
            "access_token": body["access_token"],
            "token_type": "Bearer",
            "expires_in": body["expires_in"],
            "issued_at": body["issued_at"],
            "scope": " ".join(f"repository:{a['name']}:{','.join(a['actions'])}" if a["type"] == "repository" else "registry:catalog:*" for a in access),
        }
        if grant_type == "refresh_token":
            response["refresh_token"] = request.POST["refresh_token"]
        elif request.POST.get("access_type") == "offline":
            response["refresh_token"] = refresh_token_for(request, principal, request.POST.get("password", ""))
        return JsonResponse(response)


__all__ = ["TokenView", "parse_scopes"]
