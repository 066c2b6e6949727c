"""Repository mirroring API (Quay's ``endpoints/api/mirror.py``): ``/repository/<repo>/mirror``
(GET, POST, PUT), ``.../mirror/sync-now`` and ``.../mirror/sync-cancel``.

Every call needs the admin role on the repository (also in MIRROR state, which refuses pushes
only). The upstream password is write-only: it is never shown again.
"""

from __future__ import annotations

from datetime import datetime, timezone as dt_timezone
from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.authentication import principal_of
from accounts.models import Robot
from common import serializers
from common.errors import InvalidRequestError
from repositories.access import Action
from repositories.api.repos_common import repository_for_management, request_info
from repositories.api.repositories import REPO_PATH
from repositories.models import Repository
from repositories.models.mirror import RepositoryMirror
from repositories.selectors_mirror import mirror_of
from repositories.services.mirror import MirrorSettings, mirror_cancel, mirror_create, mirror_sync_now, mirror_update, mirror_username

_DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # Quay's mirror date format


# --- serializers ------------------------------------------------------------------------------


class ProxySerializer(serializers.Serializer):
    http_proxy = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    https_proxy = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    no_proxy = serializers.CharField(required=False, allow_null=True, allow_blank=True)


class ExternalRegistryConfigSerializer(serializers.Serializer):
    verify_tls = serializers.BooleanField(required=False, help_text="Require HTTPS with a verified certificate (default true). Off: also plain HTTP.")
    unsigned_images = serializers.BooleanField(required=False, help_text="Accepted for Quay compatibility: signatures are not verified, so unsigned images are always copied.")
    proxy = ProxySerializer(required=False, help_text="Not supported: only empty values are accepted.")


class RootRuleSerializer(serializers.Serializer):
    rule_kind = serializers.ChoiceField(choices=["tag_glob_csv"])
    rule_value = serializers.ListField(child=serializers.CharField(max_length=256), help_text="Tag globs (fnmatch: *, ?, [abc]); a tag is mirrored when it matches one")


class MirrorConfigWriteSerializer(serializers.Serializer):
    is_enabled = serializers.BooleanField(required=False, help_text="Enabled mirrors put the repository in MIRROR state and sync on schedule")
    external_reference = serializers.CharField(required=False, max_length=512, help_text="The upstream repository: [http(s)://]host[:port]/namespace/name")
    external_registry_username = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=255)
    external_registry_password = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=4096, write_only=True, help_text="Stored encrypted; never shown")
    external_registry_config = ExternalRegistryConfigSerializer(required=False)
    sync_interval = serializers.IntegerField(required=False, min_value=60, max_value=366 * 86400, help_text="Seconds between syncs (60 s to 366 days)")
    sync_start_date = serializers.DateTimeField(required=False, help_text="The first sync, e.g. 2025-03-04T10:20:30Z; later ones follow every sync_interval")
    robot_username = serializers.CharField(required=False, max_length=255, help_text="The robot (namespace+name) the mirror pushes as; it gets write on the repository")
    root_rule = RootRuleSerializer(required=False)
    skopeo_timeout_interval = serializers.IntegerField(required=False, min_value=10, max_value=86400, help_text="Read timeout of upstream requests in seconds (default 300)")
    architecture_filter = serializers.ListField(child=serializers.CharField(max_length=64), required=False, help_text="Architectures copied from an index (empty: all); the index is kept sparse")
    delete_stale_tags = serializers.BooleanField(required=False, help_text="Remove local tags that are gone upstream (or no longer match)")


class MirrorConfigSerializer(serializers.Serializer):
    is_enabled = serializers.BooleanField()
    mirror_type = serializers.CharField(help_text="Always PULL")
    external_reference = serializers.CharField()
    external_registry_username = serializers.CharField(allow_null=True)
    external_registry_config = serializers.DictField()
    sync_interval = serializers.IntegerField()
    sync_start_date = serializers.CharField(allow_null=True)
    sync_expiration_date = serializers.CharField(allow_null=True, help_text="While syncing: when the running sync's claim runs out")
    sync_retries_remaining = serializers.IntegerField()
    sync_status = serializers.CharField(help_text="NEVER_RUN, SYNC_NOW, SYNCING, SUCCESS, FAIL or CANCEL")
    root_rule = serializers.DictField()
    robot_username = serializers.CharField(allow_null=True)
    skopeo_timeout_interval = serializers.IntegerField()
    architecture_filter = serializers.ListField(child=serializers.CharField())
    delete_stale_tags = serializers.BooleanField()
    next_sync_date = serializers.CharField(allow_null=True)
    last_sync_start = serializers.CharField(allow_null=True)
    last_sync_end = serializers.CharField(allow_null=True)
    last_error = serializers.CharField(allow_blank=True)
    last_result = serializers.DictField(help_text="Counts of the last sync: tags copied/unchanged/deleted/failed, manifests, blobs, bytes")


_EXAMPLE = OpenApiExample(
    "Mirror two tag families, amd64 only",
    value={
        "is_enabled": True, "external_reference": "registry.example.com/library/nginx", "external_registry_username": "puller",
        "external_registry_password": "s3cret", "external_registry_config": {"verify_tls": True}, "sync_interval": 3600,
        "sync_start_date": "2025-03-04T10:00:00Z", "robot_username": "acme+mirror",
        "root_rule": {"rule_kind": "tag_glob_csv", "rule_value": ["1.*", "latest"]}, "architecture_filter": ["amd64"],
    },
    request_only=True,
)


def _date(value: datetime | None) -> str | None:
    return value.astimezone(dt_timezone.utc).strftime(_DATE_FORMAT) if value is not None else None


def mirror_body(mirror: RepositoryMirror) -> dict[str, Any]:
    return {
        "is_enabled": mirror.is_enabled,
        "mirror_type": "PULL",
        "external_reference": mirror.external_reference,
        "external_registry_username": mirror_username(mirror),
        "external_registry_config": {
            "verify_tls": mirror.verify_tls, "unsigned_images": True, "proxy": {"http_proxy": None, "https_proxy": None, "no_proxy": None},
        },
        "sync_interval": mirror.sync_interval,
        "sync_start_date": _date(mirror.sync_start_date),
        "sync_expiration_date": _date(mirror.sync_expires_at),
        "sync_retries_remaining": mirror.retries_remaining,
        "sync_status": mirror.status,
        "root_rule": {"rule_kind": "tag_glob_csv", "rule_value": list(mirror.tag_patterns)},
        "robot_username": mirror.robot.username if mirror.robot is not None else None,
        "skopeo_timeout_interval": mirror.timeout_s,
        "architecture_filter": list(mirror.architecture_filter),
        "delete_stale_tags": mirror.delete_stale_tags,
        "next_sync_date": _date(mirror.next_sync_at),
        "last_sync_start": _date(mirror.last_sync_started_at),
        "last_sync_end": _date(mirror.last_sync_finished_at),
        "last_error": mirror.last_error,
        "last_result": mirror.last_result or {},
    }


def _robot(username: str, repository: Repository) -> Robot:
    namespace, plus, shortname = username.partition("+")
    robot = None
    if plus and username.isprintable():  # PostgreSQL refuses NUL in a query parameter
        robot = Robot.objects.select_related("namespace").filter(namespace__name=namespace, shortname=shortname).first()
    if robot is None:
        raise InvalidRequestError(f"no robot account {username!r} (robots are named namespace+name)", detail={"robot_username": username[:255]})
    return robot


def _settings(data: dict[str, Any], repository: Repository) -> MirrorSettings:
    config = data.get("external_registry_config") or {}
    proxy = config.get("proxy") or {}
    if any(value for value in proxy.values()):
        raise InvalidRequestError("HTTP proxies for mirroring are not supported; leave proxy empty", detail={"proxy": proxy})
    has_username = "external_registry_username" in data
    if "external_registry_password" in data and not has_username:
        raise InvalidRequestError("Unable to set a new password without also specifying a username.")
    return MirrorSettings(
        external_reference=data.get("external_reference"),
        sync_interval=data.get("sync_interval"),
        sync_start_date=data.get("sync_start_date"),
        tag_patterns=data["root_rule"]["rule_value"] if "root_rule" in data else None,
        robot=_robot(data["robot_username"], repository) if data.get("robot_username") else None,
        username=data.get("external_registry_username") or None,
        password=data.get("external_registry_password") if "external_registry_password" in data else None,
        credentials_given=has_username,
        verify_tls=config.get("verify_tls"),
        architecture_filter=data.get("architecture_filter"),
        delete_stale_tags=data.get("delete_stale_tags"),
        timeout_s=data.get("skopeo_timeout_interval"),
        is_enabled=data.get("is_enabled"),
    )


def _repository(request: Request, repository: str) -> Repository:
    return repository_for_management(request, repository, Action.ADMIN)


def _mirror(repository: Repository) -> RepositoryMirror:
    mirror = mirror_of(repository=repository)
    if mirror is None:
        raise NotFound(f"repository {repository.full_name} has no mirror configuration")
    return mirror


def _validated(request: Request) -> dict[str, Any]:
    serializer = MirrorConfigWriteSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class RepositoryMirrorView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(operation_id="getRepoMirrorConfig", summary="The repository's mirror configuration and sync state (admin)", parameters=[REPO_PATH], responses=MirrorConfigSerializer)
    def get(self, request: Request, repository: str) -> Response:
        return Response(mirror_body(_mirror(_repository(request, repository))))

    @extend_schema(
        operation_id="createRepoMirrorConfig", summary="Make the repository a mirror of an upstream repository (admin)",
        description="Required: external_reference, sync_interval, sync_start_date, root_rule, robot_username. 409 when one exists.",
        parameters=[REPO_PATH], request=MirrorConfigWriteSerializer, responses={201: MirrorConfigSerializer}, examples=[_EXAMPLE],
    )
    def post(self, request: Request, repository: str) -> Response:
        repo = _repository(request, repository)
        data = _validated(request)
        missing = [name for name in ("external_reference", "sync_interval", "sync_start_date", "root_rule", "robot_username") if name not in data]
        if missing:
            raise InvalidRequestError(f"missing: {', '.join(missing)}", detail={"missing": missing})
        mirror = mirror_create(repository=repo, values=_settings(data, repo), actor=principal_of(request), request=request_info(request))
        return Response(mirror_body(mirror_of(repository=repo) or mirror), status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="changeRepoMirrorConfig", summary="Change the mirror configuration (admin; only the fields given)",
        parameters=[REPO_PATH], request=MirrorConfigWriteSerializer, responses={201: MirrorConfigSerializer},
    )
    def put(self, request: Request, repository: str) -> Response:
        repo = _repository(request, repository)
        mirror = _mirror(repo)
        data = _validated(request)
        if data.get("external_reference") == "":
            raise InvalidRequestError("Empty string is an invalid repository location.")
        mirror_update(mirror=mirror, values=_settings(data, repo), actor=principal_of(request), request=request_info(request))
        return Response(mirror_body(_mirror(repo)), status=status.HTTP_201_CREATED)


class RepositoryMirrorSyncNowView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="syncNow", summary="Sync the mirror as soon as possible (admin)", parameters=[REPO_PATH], request=None,
        responses={204: OpenApiResponse(description="requested; the scheduler starts it within 30 s"), 409: OpenApiResponse(description="disabled, or a sync is running")},
    )
    def post(self, request: Request, repository: str) -> Response:
        mirror = _mirror(_repository(request, repository))
        mirror_sync_now(mirror=mirror, actor=principal_of(request), request=request_info(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class RepositoryMirrorSyncCancelView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="syncCancel", summary="Cancel the running or requested sync (admin)", parameters=[REPO_PATH], request=None,
        responses={204: OpenApiResponse(description="cancelled (a running sync stops before its next item)"), 404: OpenApiResponse(description="no sync running or requested")},
    )
    def post(self, request: Request, repository: str) -> Response:
        mirror = _mirror(_repository(request, repository))
        mirror_cancel(mirror=mirror, actor=principal_of(request), request=request_info(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
