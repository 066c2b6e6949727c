"""Builds API (Quay's ``endpoints/api/build.py``, ``trigger.py`` and the file drop).

- ``POST /filedrop/`` answers ``{url, file_id}``; a ``PUT`` of a tar or tar.gz to ``url`` (signed,
  no other credentials needed) streams it into storage;
- ``/repository/<repo>/build/`` list (read) and request (write); ``.../build/<uuid>`` get (read),
  cancel (write); ``.../status`` (read); ``.../logs`` (write; ``start`` for live polling);
- ``/repository/<repo>/trigger/`` custom git triggers (admin): create, list, get, enable/disable,
  delete, ``activate``, ``start`` and per-trigger ``builds``;
- ``POST /webhooks/push/trigger/<uuid>`` (outside /api): a push, signed with the trigger secret.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.authentication import principal_of
from accounts.models import Robot, User
from common import serializers
from common.errors import InvalidRequestError
from repositories.access import Action
from repositories.api.access import repository_for_api
from repositories.api.repos_common import format_date, repository_for_management
from repositories.api.repositories import REPO_PATH
from repositories.models import Repository
from repositories.models.builds import BuildTrigger, RepositoryBuild
from repositories.services.build_logs import build_log_read
from repositories.services.builds import (
    BuildSpec,
    build_cancel,
    build_request_for,
    display_name,
    filedrop_create,
    filedrop_receive,
    trigger_activate,
    trigger_create,
    trigger_delete,
    trigger_set_enabled,
    trigger_start,
    trigger_webhook,
)

UUID_PATH = OpenApiParameter("build_uuid", str, OpenApiParameter.PATH, description="The build's id")
TRIGGER_PATH = OpenApiParameter("trigger_uuid", str, OpenApiParameter.PATH, description="The trigger's id")
_CHUNK = 1024 * 1024


# --- shapes -------------------------------------------------------------------------------------


def _robot_view(robot: Robot | None) -> dict[str, Any] | None:
    return {"name": robot.username, "kind": "user", "is_robot": True} if robot is not None else None


def trigger_view(trigger: BuildTrigger, request: HttpRequest | None = None) -> dict[str, Any]:
    path = reverse("build-trigger-webhook", args=[trigger.uuid.hex])
    return {
        "id": trigger.uuid.hex,
        "service": trigger.service,
        "is_active": trigger.enabled,
        "enabled": trigger.enabled,
        "disabled_reason": trigger.disabled_reason or None,
        "consecutive_failures": trigger.consecutive_failures,
        "build_source": trigger.git_url,
        "repository_url": trigger.git_url,
        "config": {
            "build_source": trigger.git_url, "ref": trigger.default_ref, "context": f"/{trigger.context_subdir}",
            "dockerfile_path": trigger.dockerfile_path, "tag_templates": list(trigger.tag_templates or []),
        },
        "webhook_url": request.build_absolute_uri(path) if request is not None else path,
        "pull_robot": _robot_view(trigger.pull_robot),
        "can_invoke": True,
    }


def build_view(build: RepositoryBuild) -> dict[str, Any]:
    """Quay's ``build_status_view``."""
    repository = build.repository
    return {
        "id": build.uuid.hex,
        "phase": build.phase,
        "started": format_date(build.created),
        "started_at": format_date(build.started_at),
        "finished": format_date(build.finished_at),
        "display_name": display_name(build),
        "status": {"phase": build.phase, "cancel_requested": build.cancel_requested},
        "error": build.error or None,
        "subdirectory": f"/{build.context_subdir}",
        "context": f"/{build.context_subdir}",
        "dockerfile_path": build.dockerfile_path,
        "tags": list(build.tags),
        "build_args": dict(build.build_args or {}),
        "source": build.context_kind,
        "resource_key": build.upload.file_id if build.upload_id and build.upload else None,
        "git_url": build.git_url or None,
        "ref": build.git_ref or None,
        "manual_user": build.requested_by_name if not build.trigger_id else None,
        "trigger": {"id": build.trigger.uuid.hex, "service": build.trigger.service} if build.trigger_id and build.trigger else None,
        "trigger_metadata": build.trigger_metadata or {},
        "pull_robot": _robot_view(build.pull_robot),
        "manifest_digest": build.manifest_digest or None,
        "logs_archived": bool(build.log_archive_path),
        "repository": {"namespace": repository.namespace.name, "name": repository.name},
    }


class BuildRequestSerializer(serializers.Serializer):
    file_id = serializers.CharField(required=False, max_length=64, help_text="An uploaded archive (POST /api/v1/filedrop/, then PUT the archive)")
    git_url = serializers.CharField(required=False, max_length=1024, help_text="Build from a git repository instead (https://, http:// or git://)")
    ref = serializers.CharField(required=False, max_length=255, help_text="Branch or tag of git_url (default main)")
    subdirectory = serializers.CharField(required=False, allow_blank=True, max_length=1024, help_text="The build context inside the archive or repository")
    context = serializers.CharField(required=False, allow_blank=True, max_length=1024, help_text="Alias of subdirectory (Quay)")
    dockerfile_path = serializers.CharField(required=False, max_length=1024, help_text="Path of the Dockerfile from the archive root (default <subdirectory>/Dockerfile)")
    docker_tags = serializers.ListField(child=serializers.CharField(max_length=128), required=False, help_text="Tags to push (default latest)")
    build_args = serializers.DictField(child=serializers.CharField(allow_blank=True, max_length=4096), required=False)
    pull_robot = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=255, help_text="namespace+name of a robot that may read the base images")
    archive_url = serializers.CharField(required=False, max_length=2048, help_text="Not supported: upload the archive through the file drop")


class TriggerCreateSerializer(serializers.Serializer):
    git_url = serializers.CharField(max_length=1024)
    ref = serializers.CharField(required=False, max_length=255, help_text="Branch built by a manual start (default main)")
    context = serializers.CharField(required=False, allow_blank=True, max_length=1024)
    dockerfile_path = serializers.CharField(required=False, max_length=1024)
    tag_templates = serializers.ListField(child=serializers.CharField(max_length=128), required=False, help_text="Default ${branch} and ${short_sha}")
    pull_robot = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=255)


class FileDropRequestSerializer(serializers.Serializer):
    mimeType = serializers.CharField(required=False, allow_blank=True, help_text="Accepted for Quay compatibility; ignored.")


def _validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _robot(name: str | None, repository: Repository) -> Robot | None:
    if not name:
        return None
    namespace, plus, shortname = name.partition("+")
    robot = Robot.objects.filter(namespace__name=namespace, shortname=shortname).first() if plus and name.isprintable() else None
    if robot is None:
        raise InvalidRequestError(f"no robot account {name!r} (robots are named namespace+name)", detail={"pull_robot": name[:255]})
    return robot


def _build(repository: Repository, build_uuid: str) -> RepositoryBuild:
    build = (
        RepositoryBuild.objects.select_related("repository__namespace", "upload", "trigger", "pull_robot")
        .filter(repository=repository, uuid=_uuid(build_uuid))
        .first()
    )
    if build is None:
        raise NotFound("no such build in this repository")
    return build


def _uuid(value: str) -> str | None:
    import uuid as uuid_module

    try:
        return str(uuid_module.UUID(value))
    except ValueError:
        raise NotFound("no such build or trigger") from None


def _int(value: str | None, default: int, name: str, *, low: int, high: int) -> int:
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except ValueError:
        raise InvalidRequestError(f"{name} must be an integer", detail={name: value[:50]}) from None
    return max(low, min(high, number))


# --- file drop --------------------------------------------------------------------------------


class FileDropView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="getFiledropUrl", summary="An upload URL for a build context (tar or tar.gz)",
        description="PUT the archive to `url` (no other credentials needed; the URL expires), then name `file_id` in a build request.",
        request=FileDropRequestSerializer,
        responses={200: OpenApiResponse(description="{url, file_id}")},
    )
    def post(self, request: Request) -> Response:
        _validated(FileDropRequestSerializer, request.data)
        principal = principal_of(request)
        user = User.objects.filter(pk=principal.id).first() if principal.kind == "user" else None
        upload, token = filedrop_create(user=user)
        url = request.build_absolute_uri(reverse("api-filedrop-upload", args=[upload.file_id])) + f"?token={token}"
        return Response({"url": url, "file_id": upload.file_id})


class FileDropUploadView(APIView):
    """The signed upload URL: the body is streamed to storage in chunks, never held whole."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes: list = []

    @extend_schema(
        operation_id="putFiledrop", summary="Upload the build context archive of a file drop (signed URL)",
        parameters=[OpenApiParameter("token", str, OpenApiParameter.QUERY, required=True)],
        request={"application/octet-stream": {"type": "string", "format": "binary"}},
        responses={200: OpenApiResponse(description="{file_id, size}"), 401: OpenApiResponse(description="bad signature"), 413: OpenApiResponse(description="too large")},
    )
    def put(self, request: Request, file_id: str) -> Response:
        raw = request._request
        length_header = raw.META.get("CONTENT_LENGTH") or ""
        content_length = int(length_header) if length_header.isdigit() else None

        def chunks():
            while True:
                chunk = raw.read(_CHUNK)
                if not chunk:
                    return
                yield chunk

        upload = filedrop_receive(file_id=file_id, token=request.query_params.get("token", ""), chunks=chunks(), content_length=content_length)
        return Response({"file_id": upload.file_id, "size": upload.size})


# --- builds ---------------------------------------------------------------------------------------


class RepositoryBuildListView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="getRepoBuilds", summary="Recent builds of the repository (read)",
        parameters=[REPO_PATH, OpenApiParameter("limit", int, description="at most this many (default 5, max 100)"),
                    OpenApiParameter("since", int, description="only builds started after this Unix time")],  # fmt: skip
        responses={200: OpenApiResponse(description='{"builds": [build, ...]}')},
    )
    def get(self, request: Request, repository: str) -> Response:
        repo = repository_for_api(request, repository, Action.PULL)
        limit = _int(request.query_params.get("limit"), 5, "limit", low=1, high=100)
        builds = RepositoryBuild.objects.filter(repository=repo).select_related("repository__namespace", "upload", "trigger", "pull_robot")
        since = request.query_params.get("since")
        if since:
            from datetime import datetime, timezone as dt_timezone

            builds = builds.filter(created__gt=datetime.fromtimestamp(_int(since, 0, "since", low=0, high=2**40), tz=dt_timezone.utc))
        return Response({"builds": [build_view(b) for b in builds.order_by("-created", "-pk")[:limit]]})

    @extend_schema(
        operation_id="requestRepoBuild", summary="Request a Dockerfile build (write)",
        description="From an uploaded archive (`file_id`) or a git repository (`git_url` + `ref`). Base images must come from this registry.",
        parameters=[REPO_PATH], request=BuildRequestSerializer, responses={201: OpenApiResponse(description="the queued build")},
        examples=[OpenApiExample("Archive", value={"file_id": "3f2a…", "docker_tags": ["latest", "v1"], "build_args": {"VERSION": "1"}}, request_only=True)],
    )
    def post(self, request: Request, repository: str) -> Response:
        repo = repository_for_api(request, repository, Action.PUSH)
        data = _validated(BuildRequestSerializer, request.data)
        if data.get("archive_url"):
            raise InvalidRequestError("archive_url is not supported: upload the archive through POST /api/v1/filedrop/ and pass file_id")
        subdir = data.get("subdirectory", data.get("context", "")) or ""
        dockerfile = data.get("dockerfile_path") or (f"{subdir.strip('/')}/Dockerfile" if subdir.strip("/") else "Dockerfile")
        spec = BuildSpec(
            tags=data.get("docker_tags") or ["latest"], file_id=data.get("file_id"), git_url=data.get("git_url"), git_ref=data.get("ref") or ("main" if data.get("git_url") else ""),
            context_subdir=subdir, dockerfile_path=dockerfile, build_args=data.get("build_args") or {}, pull_robot=_robot(data.get("pull_robot"), repo),
        )
        build = build_request_for(repository=repo, spec=spec, principal=principal_of(request))
        return Response(build_view(build), status=status.HTTP_201_CREATED)


class RepositoryBuildView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="getRepoBuild", summary="One build (read)", parameters=[REPO_PATH, UUID_PATH], responses={200: OpenApiResponse(description="build")})
    def get(self, request: Request, repository: str, build_uuid: str) -> Response:
        return Response(build_view(_build(repository_for_api(request, repository, Action.PULL), build_uuid)))

    @extend_schema(
        operation_id="cancelRepoBuild", summary="Cancel a build (write)", parameters=[REPO_PATH, UUID_PATH],
        responses={204: OpenApiResponse(description="cancelled, or being stopped"), 400: OpenApiResponse(description="already finished")},
    )
    def delete(self, request: Request, repository: str, build_uuid: str) -> Response:
        build = _build(repository_for_management(request, repository, Action.DELETE), build_uuid)
        build_cancel(build=build)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RepositoryBuildStatusView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="getRepoBuildStatus", summary="A build's phase (read)", parameters=[REPO_PATH, UUID_PATH], responses={200: OpenApiResponse(description="build")})
    def get(self, request: Request, repository: str, build_uuid: str) -> Response:
        return Response(build_view(_build(repository_for_api(request, repository, Action.PULL), build_uuid)))


class RepositoryBuildLogsView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="getRepoBuildLogs", summary="A build's log entries from `start` on (write); live or archived",
        parameters=[REPO_PATH, UUID_PATH, OpenApiParameter("start", int, description="first entry to return (poll with the last total)")],
        responses={200: OpenApiResponse(description='{"start", "total", "logs": [{"message", "type"?, "data"?, "datetime"}]}')},
    )
    def get(self, request: Request, repository: str, build_uuid: str) -> Response:
        build = _build(repository_for_management(request, repository, Action.DELETE), build_uuid)
        page = build_log_read(build=build, start=_int(request.query_params.get("start"), 0, "start", low=0, high=2**31))
        return Response({"start": page.start, "total": page.total, "logs": page.logs, "phase": build.phase})


# --- triggers -------------------------------------------------------------------------------------


def _trigger(repository: Repository, trigger_uuid: str) -> BuildTrigger:
    trigger = BuildTrigger.objects.select_related("repository__namespace", "pull_robot", "created_by").filter(repository=repository, uuid=_uuid(trigger_uuid)).first()
    if trigger is None:
        raise NotFound("no such trigger in this repository")
    return trigger


def _admin_repo(request: Request, repository: str) -> Repository:
    return repository_for_management(request, repository, Action.ADMIN)


class BuildTriggerListView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(operation_id="listBuildTriggers", summary="The repository's build triggers (admin)", parameters=[REPO_PATH], responses={200: OpenApiResponse(description='{"triggers": [...]}')})
    def get(self, request: Request, repository: str) -> Response:
        repo = _admin_repo(request, repository)
        triggers = BuildTrigger.objects.filter(repository=repo).select_related("pull_robot").order_by("created", "pk")
        return Response({"triggers": [trigger_view(t, request) for t in triggers]})

    @extend_schema(
        operation_id="createBuildTrigger", summary="Create a custom git trigger (admin); the webhook secret is shown once",
        parameters=[REPO_PATH], request=TriggerCreateSerializer, responses={201: OpenApiResponse(description="trigger + secret")},
    )
    def post(self, request: Request, repository: str) -> Response:
        repo = _admin_repo(request, repository)
        data = _validated(TriggerCreateSerializer, request.data)
        principal = principal_of(request)
        user = User.objects.filter(pk=principal.id).first() if principal.kind == "user" else None
        if user is None:
            raise InvalidRequestError("triggers are created by users (their builds push with the creator's rights)")
        trigger, secret = trigger_create(
            repository=repo, created_by=user, git_url=data["git_url"], default_ref=data.get("ref") or "main", context_subdir=data.get("context", ""),
            dockerfile_path=data.get("dockerfile_path") or "Dockerfile", tag_templates=data.get("tag_templates"), pull_robot=_robot(data.get("pull_robot"), repo),
        )
        return Response({**trigger_view(trigger, request), "secret": secret}, status=status.HTTP_201_CREATED)


class BuildTriggerView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(operation_id="getBuildTrigger", summary="One trigger (admin)", parameters=[REPO_PATH, TRIGGER_PATH], responses={200: OpenApiResponse(description="trigger")})
    def get(self, request: Request, repository: str, trigger_uuid: str) -> Response:
        return Response(trigger_view(_trigger(_admin_repo(request, repository), trigger_uuid), request))

    @extend_schema(
        operation_id="updateBuildTrigger", summary="Enable or disable a trigger (admin)", parameters=[REPO_PATH, TRIGGER_PATH],
        request={"application/json": {"type": "object", "properties": {"enabled": {"type": "boolean"}}, "required": ["enabled"]}},
        responses={200: OpenApiResponse(description="trigger")},
    )
    def put(self, request: Request, repository: str, trigger_uuid: str) -> Response:
        trigger = _trigger(_admin_repo(request, repository), trigger_uuid)
        enabled = request.data.get("enabled") if isinstance(request.data, dict) else None
        if not isinstance(enabled, bool):
            raise InvalidRequestError("enabled (true or false) is required", detail={"enabled": enabled})
        return Response(trigger_view(trigger_set_enabled(trigger=trigger, enabled=enabled), request))

    @extend_schema(operation_id="deleteBuildTrigger", summary="Delete a trigger (admin)", parameters=[REPO_PATH, TRIGGER_PATH], responses={204: OpenApiResponse(description="deleted")})
    def delete(self, request: Request, repository: str, trigger_uuid: str) -> Response:
        trigger_delete(trigger=_trigger(_admin_repo(request, repository), trigger_uuid))
        return Response(status=status.HTTP_204_NO_CONTENT)


class BuildTriggerActivateView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="activateBuildTrigger", summary="Enable a trigger again and reset its failure count (admin); optionally a new secret",
        parameters=[REPO_PATH, TRIGGER_PATH],
        request={"application/json": {"type": "object", "properties": {"regenerate_secret": {"type": "boolean"}}}},
        responses={200: OpenApiResponse(description="trigger (+ secret when regenerated)")},
    )
    def post(self, request: Request, repository: str, trigger_uuid: str) -> Response:
        trigger = _trigger(_admin_repo(request, repository), trigger_uuid)
        regenerate = bool(request.data.get("regenerate_secret")) if isinstance(request.data, dict) else False
        trigger, secret = trigger_activate(trigger=trigger, regenerate_secret=regenerate)
        body = trigger_view(trigger, request)
        if secret:
            body["secret"] = secret
        return Response(body)


class BuildTriggerStartView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="manuallyStartBuildTrigger", summary="Start a build of the trigger now (admin)", parameters=[REPO_PATH, TRIGGER_PATH],
        request={"application/json": {"type": "object", "properties": {"branch_name": {"type": "string"}, "refs": {"type": "object"}, "commit_sha": {"type": "string"}}}},
        responses={201: OpenApiResponse(description="the queued build"), 409: OpenApiResponse(description="the trigger is disabled")},
    )
    def post(self, request: Request, repository: str, trigger_uuid: str) -> Response:
        repo = _admin_repo(request, repository)
        trigger = _trigger(repo, trigger_uuid)
        data = request.data if isinstance(request.data, dict) else {}
        refs = data.get("refs") if isinstance(data.get("refs"), dict) else {}
        ref = data.get("branch_name") or refs.get("name") or None
        principal = principal_of(request)
        user = User.objects.filter(pk=principal.id).first() if principal.kind == "user" else None
        build = trigger_start(trigger=trigger, ref=str(ref) if ref else None, commit=str(data.get("commit_sha") or ""), requested_by=user)
        return Response(build_view(build), status=status.HTTP_201_CREATED)


class BuildTriggerBuildsView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="listTriggerRecentBuilds", summary="Recent builds started by the trigger (admin)",
        parameters=[REPO_PATH, TRIGGER_PATH, OpenApiParameter("limit", int)], responses={200: OpenApiResponse(description='{"builds": [...]}')},
    )
    def get(self, request: Request, repository: str, trigger_uuid: str) -> Response:
        trigger = _trigger(_admin_repo(request, repository), trigger_uuid)
        limit = _int(request.query_params.get("limit"), 5, "limit", low=1, high=100)
        builds = trigger.builds.select_related("repository__namespace", "upload", "trigger", "pull_robot").order_by("-created", "-pk")[:limit]
        return Response({"builds": [build_view(b) for b in builds]})


class TriggerWebhookView(APIView):
    """``POST /webhooks/push/trigger/<uuid>``: a signed push notification starts a build."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes: list = []

    @extend_schema(
        operation_id="buildTriggerWebhook", summary="Push webhook of a custom git trigger (HMAC-signed)",
        description="Header `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body with the trigger secret>`; body `{\"ref\": \"refs/heads/main\", \"commit\": \"<sha>\"}`.",
        parameters=[TRIGGER_PATH], request={"application/json": {"type": "object"}},
        responses={202: OpenApiResponse(description="build queued"), 401: OpenApiResponse(description="bad signature"), 409: OpenApiResponse(description="trigger disabled")},
    )
    def post(self, request: Request, trigger_uuid: str) -> Response:
        import json

        raw = request._request
        body = raw.read(1024 * 1024 + 1)
        if len(body) > 1024 * 1024:
            raise InvalidRequestError("the webhook body is larger than 1 MiB")
        signature = raw.META.get("HTTP_X_HUB_SIGNATURE_256") or raw.META.get("HTTP_X_MOORAGE_SIGNATURE") or ""
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            payload = None
        build = trigger_webhook(trigger_uuid=trigger_uuid, body=body, signature=signature, payload=payload)
        return Response({"build_id": build.uuid.hex, "phase": build.phase}, status=status.HTTP_202_ACCEPTED)
