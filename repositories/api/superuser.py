"""Superuser endpoints (Quay's ``superuser.py``, ``suconfig.py``): users, organizations, registry
size and the effective configuration. Superusers change; global read-only superusers may read.

Every change writes an audit entry in the same transaction as the change itself.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.authentication import principal_of
from accounts.api.permissions import IsSuperuser
from accounts.models import User
from accounts.services import NAMESPACE_RE, user_create_with_password, user_delete, user_set_enabled, user_set_superuser, user_update
from common import serializers
from common.errors import InvalidRequestError
from organizations.models import Organization
from organizations.services import organization_delete
from repositories.api.filters import OrganizationFilter, UserFilter, filtered, schema_parameters
from repositories.models import Blob, Manifest, Repository, Tag
from repositories.selectors import live_tags
from repositories.selectors_logs import format_date
from repositories.services.audit import RequestInfo, audit_log
from repositories.services.repositories import namespace_repositories_delete

#: users and organizations per page of the superuser lists
PAGE_SIZE = 100
_PAGE_SALT = "moorage.superuser.next_page"


def request_info(request: Any) -> RequestInfo:
    return RequestInfo.of(request)


def audit(request: Request, kind: str, *, namespace_name: str = "", metadata: dict[str, Any] | None = None) -> None:
    """The audit entry of a change made through the API (call inside the change's transaction)."""
    audit_log(kind=kind, principal=principal_of(request), namespace_name=namespace_name, request=request_info(request), metadata=metadata)


# --- paging by name ------------------------------------------------------------------------------


class PageQuerySerializer(serializers.Serializer):
    next_page = serializers.CharField(max_length=1024, required=False, allow_blank=True, help_text="The next_page token of the previous page.")


def _after(token: str | None, kind: str) -> str | None:
    if not token:
        return None
    try:
        value = signing.loads(token, salt=f"{_PAGE_SALT}.{kind}")
    except signing.BadSignature:
        raise InvalidRequestError("next_page is not a page token this registry issued") from None
    if not isinstance(value, str):
        raise InvalidRequestError("next_page is not a page token this registry issued")
    return value


def _page(rows: list, kind: str, name_of) -> tuple[list, str | None]:
    if len(rows) <= PAGE_SIZE:
        return rows, None
    rows = rows[:PAGE_SIZE]
    return rows, signing.dumps(name_of(rows[-1]), salt=f"{_PAGE_SALT}.{kind}")


# --- users ---------------------------------------------------------------------------------------


def user_view(user: User) -> dict[str, Any]:
    """Quay's superuser view of a user."""
    return {
        "kind": "user",
        "name": user.username,
        "username": user.username,
        "email": user.email,
        "verified": True,
        "super_user": user.is_superuser,
        "global_readonly_super_user": user.is_global_readonly_superuser,
        "enabled": user.is_active,
    }


_User = inline_serializer(
    "SuperuserUserView",
    {
        "kind": serializers.CharField(),
        "name": serializers.CharField(),
        "username": serializers.CharField(),
        "email": serializers.CharField(allow_blank=True),
        "verified": serializers.BooleanField(),
        "super_user": serializers.BooleanField(),
        "global_readonly_super_user": serializers.BooleanField(),
        "enabled": serializers.BooleanField(),
    },
)
_UserList = inline_serializer(
    "SuperuserUserList",
    {"users": serializers.ListField(child=_User), "next_page": serializers.CharField(required=False)},
)
_CreatedUser = inline_serializer(
    "SuperuserCreatedUser",
    {
        "username": serializers.CharField(),
        "email": serializers.CharField(allow_blank=True),
        "password": serializers.CharField(allow_null=True, help_text="The generated password, shown this once (null when you chose it)."),
    },
)
_NO_CONTENT = {204: OpenApiResponse(description="deleted")}


class UserListQuerySerializer(PageQuerySerializer):
    disabled = serializers.BooleanField(required=False, default=True, help_text="false: only enabled users.")


class UserCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    password = serializers.CharField(required=False, allow_blank=True, min_length=8, max_length=1024, write_only=True,
                                     help_text="Leave out to have one generated (returned once).")


class UserChangeSerializer(serializers.Serializer):
    password = serializers.CharField(required=False, min_length=8, max_length=1024, write_only=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    enabled = serializers.BooleanField(required=False)
    superuser = serializers.BooleanField(required=False)


def is_name(value: str) -> bool:
    """Whether ``value`` can be a user or organization name at all: anything else (a NUL byte,
    which PostgreSQL refuses in a query, say) is simply not found, without a database query."""
    return len(value) <= 255 and bool(NAMESPACE_RE.match(value))


def _user_or_404(username: str) -> User:
    user = User.objects.filter(username=username).first() if is_name(username) else None
    if user is None:
        raise NotFound(f"user {username} not found")
    return user


class SuperuserUserListView(APIView):
    permission_classes = [IsSuperuser]

    @extend_schema(
        operation_id="listAllUsers", parameters=[UserListQuerySerializer, *schema_parameters(UserFilter)], responses=_UserList,
        summary="List every user (paged; filter by name, e-mail and superuser flags)",
    )
    def get(self, request: Request) -> Response:
        query = UserListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        users = filtered(UserFilter, request.query_params, User.objects.order_by("username"))
        if not query.validated_data["disabled"]:
            users = users.filter(is_active=True)
        after = _after(query.validated_data.get("next_page"), "users")
        if after is not None:
            users = users.filter(username__gt=after)
        rows, next_page = _page(list(users[: PAGE_SIZE + 1]), "users", lambda user: user.username)
        body: dict[str, Any] = {"users": [user_view(user) for user in rows]}
        if next_page:
            body["next_page"] = next_page
        return Response(body)

    @extend_schema(operation_id="createInstallUser", request=UserCreateSerializer, responses={201: _CreatedUser}, summary="Create a user (a generated password is shown once)")
    def post(self, request: Request) -> Response:
        data = UserCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        with transaction.atomic():
            created = user_create_with_password(username=values["username"], email=values["email"], password=values.get("password") or None)
            audit(request, "superuser_create_user", namespace_name=created.user.username, metadata={"username": created.user.username, "email": created.user.email})
        body = {"username": created.user.username, "email": created.user.email, "password": created.generated_password}
        return Response(body, status=status.HTTP_201_CREATED)


class SuperuserUserView(APIView):
    permission_classes = [IsSuperuser]

    @extend_schema(operation_id="getInstallUser", responses=_User, summary="One user")
    def get(self, request: Request, username: str) -> Response:
        return Response(user_view(_user_or_404(username)))

    @extend_schema(operation_id="changeInstallUser", request=UserChangeSerializer, responses=_User, summary="Change a user's password, e-mail, enabled state or superuser rights")
    def put(self, request: Request, username: str) -> Response:
        user = _user_or_404(username)
        data = UserChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        principal = principal_of(request)
        if user.pk == principal.user_id and (values.get("enabled") is False or values.get("superuser") is False):
            raise InvalidRequestError("you cannot disable or demote yourself; ask another superuser")
        changed: dict[str, Any] = {}
        with transaction.atomic():
            if "email" in values or "password" in values:
                user_update(user=user, email=values.get("email"), password=values.get("password"))
                changed.update({key: values[key] for key in ("email",) if key in values})
                if "password" in values:
                    changed["password"] = "changed"  # never the password itself
            if "enabled" in values and values["enabled"] != user.is_active:
                user_set_enabled(user=user, enabled=values["enabled"])
                changed["enabled"] = values["enabled"]
            if "superuser" in values and values["superuser"] != user.is_superuser:
                user_set_superuser(user=user, is_superuser=values["superuser"])
                changed["superuser"] = values["superuser"]
            if changed:
                audit(request, "superuser_change_user", namespace_name=user.username, metadata={"username": user.username, **changed})
        return Response(user_view(user))

    @extend_schema(operation_id="deleteInstallUser", responses=_NO_CONTENT, summary="Delete a user with their repositories (hidden at once, purged in the background)")
    def delete(self, request: Request, username: str) -> Response:
        user = _user_or_404(username)
        if user.pk == principal_of(request).user_id:
            raise InvalidRequestError("you cannot delete yourself here; use DELETE /api/v1/user/")
        if user.is_superuser:
            raise InvalidRequestError("cannot delete a superuser; revoke their superuser rights first")
        with transaction.atomic():
            if user.namespace is not None:
                namespace_repositories_delete(namespace=user.namespace, actor=principal_of(request), request=request_info(request))
            user_delete(user=user)
            audit(request, "superuser_delete_user", metadata={"username": username})
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- organizations -------------------------------------------------------------------------------

_Org = inline_serializer("SuperuserOrganizationView", {"name": serializers.CharField(), "email": serializers.CharField(allow_blank=True)})
_OrgList = inline_serializer(
    "SuperuserOrganizationList", {"organizations": serializers.ListField(child=_Org), "next_page": serializers.CharField(required=False)}
)


class SuperuserOrganizationListView(APIView):
    permission_classes = [IsSuperuser]

    @extend_schema(
        operation_id="listAllOrganizations", parameters=[PageQuerySerializer, *schema_parameters(OrganizationFilter)], responses=_OrgList,
        summary="List every organization (paged; filter by name or e-mail)",
    )
    def get(self, request: Request) -> Response:
        query = PageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        organizations = filtered(OrganizationFilter, request.query_params, Organization.objects.select_related("namespace").order_by("namespace__name"))
        after = _after(query.validated_data.get("next_page"), "organizations")
        if after is not None:
            organizations = organizations.filter(namespace__name__gt=after)
        rows, next_page = _page(list(organizations[: PAGE_SIZE + 1]), "organizations", lambda org: org.namespace.name)
        body: dict[str, Any] = {"organizations": [{"name": org.namespace.name, "email": org.email} for org in rows]}
        if next_page:
            body["next_page"] = next_page
        return Response(body)


class SuperuserOrganizationView(APIView):
    permission_classes = [IsSuperuser]

    @extend_schema(operation_id="deleteOrganization", responses=_NO_CONTENT, summary="Delete an organization with its repositories (hidden at once, purged in the background)")
    def delete(self, request: Request, name: str) -> Response:
        organization = Organization.objects.select_related("namespace").filter(namespace__name=name).first() if is_name(name) else None
        if organization is None:
            raise NotFound(f"organization {name} not found")
        with transaction.atomic():
            namespace_repositories_delete(namespace=organization.namespace, actor=principal_of(request), request=request_info(request))
            organization_delete(organization=organization)
            audit(request, "org_delete", metadata={"namespace": name, "superuser": True})
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- registry size -------------------------------------------------------------------------------

_Size = inline_serializer(
    "RegistrySize",
    {
        "size_bytes": serializers.IntegerField(help_text="Bytes of all stored blobs, each counted once however many repositories share it."),
        "last_ran": serializers.CharField(help_text="When the figures were computed (now: they are computed on request)."),
        "queued": serializers.BooleanField(),
        "running": serializers.BooleanField(),
        "blob_count": serializers.IntegerField(),
        "manifest_count": serializers.IntegerField(),
        "tag_count": serializers.IntegerField(),
        "repository_count": serializers.IntegerField(),
    },
)


def registry_size() -> dict[str, Any]:
    """Deduplicated bytes and counts: blobs are rows keyed by digest, so summing them counts a
    layer shared by many repositories once."""
    blobs = Blob.objects.aggregate(total=Sum("size"))
    return {
        "size_bytes": blobs["total"] or 0,
        "last_ran": format_date(timezone.now()),
        "queued": False,
        "running": False,
        "blob_count": Blob.objects.count(),
        "manifest_count": Manifest.objects.filter(deleted_at__isnull=True).count(),
        "tag_count": Tag.objects.filter(live_tags()).count(),
        "repository_count": Repository.objects.count(),
    }


class SuperuserRegistrySizeView(APIView):
    permission_classes = [IsSuperuser]

    @extend_schema(operation_id="getRegistrySize", responses=_Size, summary="Total size of the registry (deduplicated) and object counts")
    def get(self, request: Request) -> Response:
        return Response(registry_size())


# --- configuration -------------------------------------------------------------------------------

MASK = "********"
#: key names whose values are secrets; a key ending in "_s" is a duration (token_lifetime_s)
_SENSITIVE_KEY = re.compile(r"password|passwd|secret|token|key|credential", re.IGNORECASE)


def _sensitive(key: str) -> bool:
    return bool(_SENSITIVE_KEY.search(key)) and not key.lower().endswith("_s")


def _mask_url(value: str) -> str:
    """``scheme://user:password@host/...?password=...`` with the password parts masked."""
    if "://" not in value:
        return value
    try:
        parts = urlsplit(value)
        password = parts.password
    except ValueError:
        return MASK  # not a URL we can read: it may still hold credentials
    netloc = parts.netloc
    if password is not None:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        netloc = f"{user}:{MASK}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_sensitive(key) for key, _ in pairs):
            query = urlencode([(key, MASK if _sensitive(key) else item) for key, item in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def config_masked(value: Any, *, sensitive: bool = False) -> Any:
    """``value`` with secrets replaced by ``********``: every value under a key named like a secret
    (booleans and nulls stay, they say whether something is set), and passwords inside URLs."""
    if isinstance(value, dict):
        return {key: config_masked(item, sensitive=sensitive or _sensitive(str(key))) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [config_masked(item, sensitive=sensitive) for item in value]
    if value is None or isinstance(value, bool):
        return value
    if sensitive:
        return MASK
    if isinstance(value, str):
        return _mask_url(value)
    if isinstance(value, (int, float)):
        return value
    return str(value)


_Config = inline_serializer("EffectiveConfig", {"config": serializers.DictField(help_text="The effective configuration, secrets masked.")})


class SuperuserConfigView(APIView):
    permission_classes = [IsSuperuser]

    @extend_schema(operation_id="getSuperuserConfig", responses=_Config, summary="The effective configuration (secrets masked)")
    def get(self, request: Request) -> Response:
        return Response({"config": config_masked(settings.MOORAGE)})
