"""Organization mirroring API (Quay's ``org_mirror.py``): ``/organization/<org>/mirror`` (GET,
POST, PUT, DELETE), ``.../mirror/sync-now``, ``.../mirror/sync-cancel``, ``.../mirror/verify``
and ``.../mirror/repositories`` (the discovered repositories with their status, paged); and
``/repository/mirror/health`` (Quay's ``mirrorhealth.py``: mirror health per namespace).

The organization endpoints need an organization administrator (or a superuser; a global
read-only superuser may read). The upstream password is write-only.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotAuthenticated, NotFound
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.authentication import principal_of
from accounts.models import Robot
from common import serializers
from common.errors import InvalidRequestError
from common.query_params import query_bool
from organizations.models import Organization
from repositories.api.mirror import ExternalRegistryConfigSerializer, RootRuleSerializer, _date
from repositories.api.organizations.common import NO_CONTENT, org_caller, require_org_admin
from repositories.api.repos_common import request_info
from repositories.models import Repository
from repositories.models.mirror import MirrorStatus, OrganizationMirror
from repositories.selectors_mirror import mirror_health, org_mirror_of, org_mirror_repositories_page
from repositories.services.mirror_org import (
    OrgMirrorSettings,
    org_mirror_cancel,
    org_mirror_create,
    org_mirror_delete,
    org_mirror_sync_now,
    org_mirror_update,
    org_mirror_username,
    org_mirror_verify,
)

ORG_PATH = OpenApiParameter("orgname", OpenApiTypes.STR, OpenApiParameter.PATH, description="The organization")
MAX_PAGE_SIZE = 100


# --- serializers ------------------------------------------------------------------------------


class OrgMirrorWriteSerializer(serializers.Serializer):
    is_enabled = serializers.BooleanField(required=False, help_text="Enabled mirrors discover and sync on schedule")
    external_registry_url = serializers.CharField(required=False, max_length=512, help_text="The upstream registry: [http(s)://]host[:port]")
    external_namespace = serializers.CharField(required=False, allow_blank=True, max_length=255, help_text="The upstream namespace (organization, project) whose repositories are mirrored; empty: the whole catalog")
    external_registry_username = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=255)
    external_registry_password = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=4096, write_only=True, help_text="Stored encrypted; never shown")
    external_registry_config = ExternalRegistryConfigSerializer(required=False)
    repository_filters = serializers.ListField(child=serializers.CharField(max_length=256), required=False, help_text="Globs on the repository name below the namespace (empty: every repository)")
    repositories = serializers.ListField(child=serializers.CharField(max_length=255), required=False, help_text="Mirror exactly these repositories (names below the namespace) instead of discovering the catalog")
    root_rule = RootRuleSerializer(required=False, help_text="Tag globs applied to every mirrored repository (default *)")
    architecture_filter = serializers.ListField(child=serializers.CharField(max_length=64), required=False, help_text="Architectures copied from an index (empty: all)")
    visibility = serializers.ChoiceField(choices=Repository.Visibility.choices, required=False, help_text="Visibility of the repositories the mirror creates")
    delete_stale_repos = serializers.BooleanField(required=False, help_text="Delete local repositories whose upstream repository disappeared (or no longer matches)")
    sync_interval = serializers.IntegerField(required=False, min_value=60, max_value=366 * 86400, help_text="Seconds between syncs")
    sync_start_date = serializers.DateTimeField(required=False, help_text="The first sync; later ones follow every sync_interval")
    robot_username = serializers.CharField(required=False, max_length=255, help_text="The organization's robot (org+name) the mirror pushes as")
    skopeo_timeout_interval = serializers.IntegerField(required=False, min_value=10, max_value=86400, help_text="Read timeout of upstream requests in seconds")


class OrgMirrorSerializer(serializers.Serializer):
    is_enabled = serializers.BooleanField()
    external_registry_url = serializers.CharField()
    external_namespace = serializers.CharField(allow_blank=True)
    external_registry_username = serializers.CharField(allow_null=True)
    external_registry_config = serializers.DictField()
    repository_filters = serializers.ListField(child=serializers.CharField())
    repositories = serializers.ListField(child=serializers.CharField())
    root_rule = serializers.DictField()
    architecture_filter = serializers.ListField(child=serializers.CharField())
    visibility = serializers.CharField()
    delete_stale_repos = serializers.BooleanField()
    sync_interval = serializers.IntegerField()
    sync_start_date = serializers.CharField(allow_null=True)
    robot_username = serializers.CharField(allow_null=True)
    skopeo_timeout_interval = serializers.IntegerField()
    sync_status = serializers.CharField(help_text="NEVER_RUN, SYNC_NOW, SYNCING, SUCCESS, FAIL or CANCEL")
    sync_expiration_date = serializers.CharField(allow_null=True)
    next_sync_date = serializers.CharField(allow_null=True)
    last_sync_start = serializers.CharField(allow_null=True)
    last_sync_end = serializers.CharField(allow_null=True)
    last_error = serializers.CharField(allow_blank=True)
    last_result = serializers.DictField(help_text="Counts of the last sync: repositories discovered/created/synced/failed/deleted, tags, blobs, bytes")
    repository_count = serializers.IntegerField(help_text="Discovered repositories")


class VerifySerializer(serializers.Serializer):
    success = serializers.BooleanField()
    message = serializers.CharField()
    repositories = serializers.ListField(child=serializers.CharField(), help_text="Up to 10 upstream repositories the mirror would mirror")


class DiscoveredRepositorySerializer(serializers.Serializer):
    upstream_name = serializers.CharField()
    repository = serializers.CharField(allow_null=True, help_text="The local repository (namespace/name)")
    sync_status = serializers.CharField()
    discovered = serializers.CharField()
    last_seen = serializers.CharField(allow_null=True)
    gone_since = serializers.CharField(allow_null=True, help_text="Set when the repository is no longer found upstream")
    last_sync = serializers.CharField(allow_null=True)
    last_error = serializers.CharField(allow_blank=True)
    last_result = serializers.DictField()


class DiscoveredPageSerializer(serializers.Serializer):
    repositories = DiscoveredRepositorySerializer(many=True)
    page = serializers.IntegerField()
    total = serializers.IntegerField()
    has_additional = serializers.BooleanField()


_EXAMPLE = OpenApiExample(
    "Mirror the app-* repositories of an upstream project",
    value={
        "is_enabled": True, "external_registry_url": "https://registry.example.com", "external_namespace": "platform",
        "external_registry_username": "puller", "external_registry_password": "s3cret", "repository_filters": ["app-*"],
        "root_rule": {"rule_kind": "tag_glob_csv", "rule_value": ["v*", "latest"]}, "visibility": "private", "delete_stale_repos": True,
        "sync_interval": 3600, "sync_start_date": "2025-03-04T10:00:00Z", "robot_username": "acme+mirror",
    },
    request_only=True,
)


# --- helpers ----------------------------------------------------------------------------------


def org_mirror_body(org_mirror: OrganizationMirror) -> dict[str, Any]:
    return {
        "is_enabled": org_mirror.is_enabled,
        "external_registry_url": org_mirror.external_registry_url,
        "external_namespace": org_mirror.external_namespace,
        "external_registry_username": org_mirror_username(org_mirror),
        "external_registry_config": {"verify_tls": org_mirror.verify_tls, "unsigned_images": True, "proxy": {"http_proxy": None, "https_proxy": None, "no_proxy": None}},
        "repository_filters": list(org_mirror.repository_patterns),
        "repositories": list(org_mirror.repositories),
        "root_rule": {"rule_kind": "tag_glob_csv", "rule_value": list(org_mirror.tag_patterns or ["*"])},
        "architecture_filter": list(org_mirror.architecture_filter),
        "visibility": org_mirror.visibility,
        "delete_stale_repos": org_mirror.delete_stale_repos,
        "sync_interval": org_mirror.sync_interval,
        "sync_start_date": _date(org_mirror.sync_start_date),
        "robot_username": org_mirror.robot.username if org_mirror.robot is not None else None,
        "skopeo_timeout_interval": org_mirror.timeout_s,
        "sync_status": org_mirror.status,
        "sync_expiration_date": _date(org_mirror.sync_expires_at),
        "next_sync_date": _date(org_mirror.next_sync_at),
        "last_sync_start": _date(org_mirror.last_sync_started_at),
        "last_sync_end": _date(org_mirror.last_sync_finished_at),
        "last_error": org_mirror.last_error,
        "last_result": org_mirror.last_result or {},
        "repository_count": org_mirror.discovered.count(),
    }


def _robot(username: str) -> Robot:
    namespace, plus, shortname = username.partition("+")
    robot = None
    if plus and username.isprintable():
        robot = Robot.objects.select_related("namespace").filter(namespace__name=namespace, shortname=shortname).first()
    if robot is None:
        raise InvalidRequestError(f"no robot account {username!r} (robots are named namespace+name)", detail={"robot_username": username[:255]})
    return robot


def _settings(data: dict[str, Any]) -> OrgMirrorSettings:
    config = data.get("external_registry_config") or {}
    proxy = config.get("proxy") or {}
    if any(value for value in proxy.values()):
        raise InvalidRequestError("HTTP proxies for mirroring are not supported; leave proxy empty", detail={"proxy": proxy})
    has_username = "external_registry_username" in data
    if "external_registry_password" in data and not has_username:
        raise InvalidRequestError("Unable to set a new password without also specifying a username.")
    return OrgMirrorSettings(
        external_registry_url=data.get("external_registry_url"),
        external_namespace=data.get("external_namespace"),
        repository_patterns=data.get("repository_filters"),
        repositories=data.get("repositories"),
        tag_patterns=data["root_rule"]["rule_value"] if "root_rule" in data else None,
        architecture_filter=data.get("architecture_filter"),
        visibility=data.get("visibility"),
        delete_stale_repos=data.get("delete_stale_repos"),
        sync_interval=data.get("sync_interval"),
        sync_start_date=data.get("sync_start_date"),
        timeout_s=data.get("skopeo_timeout_interval"),
        robot=_robot(data["robot_username"]) if data.get("robot_username") else None,
        username=data.get("external_registry_username") or None,
        password=data.get("external_registry_password") if "external_registry_password" in data else None,
        credentials_given=has_username,
        verify_tls=config.get("verify_tls"),
        is_enabled=data.get("is_enabled"),
    )


def _validated(request: Request) -> dict[str, Any]:
    serializer = OrgMirrorWriteSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _organization(request: Request, orgname: str, *, write: bool) -> Organization:
    caller = org_caller(request, orgname)
    require_org_admin(caller, write=write)
    return caller.organization


def _org_mirror(organization: Organization) -> OrganizationMirror:
    org_mirror = org_mirror_of(organization=organization)
    if org_mirror is None:
        raise NotFound(f"organization {organization.name} has no mirror configuration")
    return org_mirror


def _page_number(request: Request, name: str, default: int, maximum: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise serializers.ValidationError({name: "must be a whole number"}) from None
    if not 1 <= value <= maximum:
        raise serializers.ValidationError({name: f"must be between 1 and {maximum}"})
    return value


# --- views ------------------------------------------------------------------------------------


class OrganizationMirrorView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(operation_id="getOrgMirrorConfig", summary="The organization's mirror configuration and sync state (org admin)", parameters=[ORG_PATH], responses=OrgMirrorSerializer)
    def get(self, request: Request, orgname: str) -> Response:
        return Response(org_mirror_body(_org_mirror(_organization(request, orgname, write=False))))

    @extend_schema(
        operation_id="createOrgMirrorConfig", summary="Mirror the repositories of an upstream namespace into the organization (org admin)",
        description="Required: external_registry_url, sync_interval, sync_start_date, robot_username. 409 when one exists.",
        parameters=[ORG_PATH], request=OrgMirrorWriteSerializer, responses={201: OrgMirrorSerializer}, examples=[_EXAMPLE],
    )
    def post(self, request: Request, orgname: str) -> Response:
        organization = _organization(request, orgname, write=True)
        data = _validated(request)
        missing = [name for name in ("external_registry_url", "sync_interval", "sync_start_date", "robot_username") if name not in data]
        if missing:
            raise InvalidRequestError(f"missing: {', '.join(missing)}", detail={"missing": missing})
        org_mirror_create(organization=organization, values=_settings(data), actor=principal_of(request), request=request_info(request))
        return Response(org_mirror_body(_org_mirror(organization)), status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="changeOrgMirrorConfig", summary="Change the organization mirror (org admin; only the fields given)",
        parameters=[ORG_PATH], request=OrgMirrorWriteSerializer, responses={200: OrgMirrorSerializer},
    )
    def put(self, request: Request, orgname: str) -> Response:
        organization = _organization(request, orgname, write=True)
        org_mirror = _org_mirror(organization)
        org_mirror_update(org_mirror=org_mirror, values=_settings(_validated(request)), actor=principal_of(request), request=request_info(request))
        return Response(org_mirror_body(_org_mirror(organization)))

    @extend_schema(
        operation_id="deleteOrgMirrorConfig", summary="Stop mirroring (org admin): the repositories stay, back in NORMAL state",
        parameters=[ORG_PATH], request=None, responses=NO_CONTENT,
    )
    def delete(self, request: Request, orgname: str) -> Response:
        organization = _organization(request, orgname, write=True)
        org_mirror_delete(org_mirror=_org_mirror(organization), actor=principal_of(request), request=request_info(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class OrganizationMirrorSyncNowView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="syncOrgMirrorNow", summary="Discover and sync as soon as possible (org admin)", parameters=[ORG_PATH], request=None,
        responses={204: OpenApiResponse(description="requested; the scheduler starts it within 30 s"), 409: OpenApiResponse(description="disabled, or a sync is running")},
    )
    def post(self, request: Request, orgname: str) -> Response:
        organization = _organization(request, orgname, write=True)
        org_mirror_sync_now(org_mirror=_org_mirror(organization), actor=principal_of(request), request=request_info(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class OrganizationMirrorSyncCancelView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="cancelOrgMirrorSync", summary="Cancel the running or requested sync (org admin)", parameters=[ORG_PATH], request=None,
        responses={204: OpenApiResponse(description="cancelled"), 404: OpenApiResponse(description="no sync running or requested")},
    )
    def post(self, request: Request, orgname: str) -> Response:
        organization = _organization(request, orgname, write=True)
        org_mirror_cancel(org_mirror=_org_mirror(organization), actor=principal_of(request), request=request_info(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class OrganizationMirrorVerifyView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="verifyOrgMirror", summary="Test the connection and credentials to the upstream (org admin)",
        description=(
            "Uses the stored configuration; fields given in the body override it for this check only (test before saving). "
            "Without a stored configuration the body must name external_registry_url. Answers 200 with success false and the "
            "reason when the upstream refuses or cannot be reached."
        ),
        parameters=[ORG_PATH], request=OrgMirrorWriteSerializer, responses=VerifySerializer,
    )
    def post(self, request: Request, orgname: str) -> Response:
        organization = _organization(request, orgname, write=True)
        data = _validated(request) if request.data else {}
        org_mirror = org_mirror_of(organization=organization)
        if org_mirror is None:
            if "external_registry_url" not in data:
                raise NotFound(f"organization {organization.name} has no mirror configuration; give external_registry_url to test one")
            org_mirror = OrganizationMirror(organization=organization, external_registry_url="", sync_interval=3600, sync_start_date=None)  # type: ignore[misc]
        result = org_mirror_verify(org_mirror=org_mirror, values=_settings({k: v for k, v in data.items() if k != "robot_username"}) if data else None)
        return Response({"success": result.success, "message": result.message, "repositories": list(result.repositories)})


class OrganizationMirrorRepositoriesView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="listOrgMirrorRepositories", summary="The discovered repositories with their sync status (org admin)",
        parameters=[
            ORG_PATH,
            OpenApiParameter("page", {"type": "integer", "minimum": 1}, description="Page number, from 1"),
            OpenApiParameter("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE}, description="Entries per page (default 50)"),
            OpenApiParameter("status", OpenApiTypes.STR, description="Only this sync status (NEVER_RUN, SYNCING, SUCCESS, FAIL, CANCEL)"),
        ],
        responses=DiscoveredPageSerializer,
    )
    def get(self, request: Request, orgname: str) -> Response:
        organization = _organization(request, orgname, write=False)
        org_mirror = _org_mirror(organization)
        page = _page_number(request, "page", 1, 1_000_000)
        limit = _page_number(request, "limit", 50, MAX_PAGE_SIZE)
        wanted = request.query_params.get("status") or None
        if wanted is not None and wanted not in MirrorStatus.values:
            raise serializers.ValidationError({"status": f"one of {', '.join(MirrorStatus.values)}"})
        entries, total = org_mirror_repositories_page(org_mirror=org_mirror, page=page, limit=limit, status=wanted)
        return Response({
            "repositories": [
                {
                    "upstream_name": entry.upstream_name,
                    "repository": entry.repository.full_name if entry.repository is not None and entry.repository.deleted_at is None else None,
                    "sync_status": entry.status,
                    "discovered": _date(entry.discovered_at),
                    "last_seen": _date(entry.last_seen_at),
                    "gone_since": _date(entry.gone_since),
                    "last_sync": _date(entry.last_sync_at),
                    "last_error": entry.last_error,
                    "last_result": entry.last_result or {},
                }
                for entry in entries
            ],
            "page": page,
            "total": total,
            "has_additional": page * limit < total,
        })


class MirrorHealthView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="getRepoMirrorHealth", summary="Mirror health per namespace (the namespaces you administer; all for superusers)",
        parameters=[
            OpenApiParameter("namespace", OpenApiTypes.STR, description="Only this namespace"),
            OpenApiParameter("detailed", OpenApiTypes.BOOL, description="List each mirror with its status and last error"),
        ],
        responses={200: OpenApiResponse(description="{healthy, namespaces: [{namespace, total, by_status, failing, syncing, overdue, healthy, mirrors?}]}")},
    )
    def get(self, request: Request) -> Response:
        principal = principal_of(request)
        if principal.is_anonymous:
            raise NotAuthenticated()
        detailed = query_bool(request.query_params, "detailed")
        namespace = request.query_params.get("namespace") or None
        if namespace is not None and (len(namespace) > 255 or not namespace.isprintable()):  # PostgreSQL refuses NUL in a parameter
            raise serializers.ValidationError({"namespace": "a namespace name"})
        return Response(mirror_health(principal=principal, namespace=namespace, detailed=detailed))
