"""Audit-log exports (Quay's ``exportlogs``) and pull statistics (Quay's ``pull_statistics``).

``POST .../exportlogs`` for a repository, an organization or the signed-in user (the same people
who may read those logs) queues ``registry.logs.export`` and answers ``{"export_id"}``. The export
(archived and live entries of the range) is written to storage; ``GET /api/v1/exportlogs/<id>``
downloads it, for the requester while they may still read those logs, or for anyone holding the
signed link sent to ``callback_url`` / ``callback_email`` (valid ``logs.export_link_hours``).
"""

from __future__ import annotations

from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.authentication import principal_of
from accounts.api.permissions import IsUser
from common import serializers
from repositories.access import Action
from repositories.api.access import repository_for_api
from repositories.api.logs import _organization_logs_scope, _repository_logs_scope
from repositories.api.tags import REPOSITORY_PARAMETER, TAG_PARAMETER, ReadsAnyoneWritesAuthenticated, format_date
from repositories.models import LogExport
from repositories.selectors_logs import LogScope, log_window_parse
from repositories.selectors_stats import manifest_pull_statistics, tag_pull_statistics
from repositories.selectors_tags import manifest_find_any
from repositories.services.logs import export_download_token_valid, export_open, log_export_request


class ExportLogsSerializer(serializers.Serializer):
    starttime = serializers.CharField(max_length=255, required=False, allow_blank=True, help_text="First day (MM/DD/YYYY) or ISO 8601. Default: a week before endtime.")
    endtime = serializers.CharField(max_length=255, required=False, allow_blank=True, help_text="Last day, included (MM/DD/YYYY), or ISO 8601. Default: now.")
    callback_url = serializers.URLField(max_length=2048, required=False, allow_blank=True, help_text="An http(s) URL that receives a JSON POST with the download link when the export is ready.")
    callback_email = serializers.EmailField(required=False, allow_blank=True, help_text="An address that receives the download link when the export is ready.")

    def validate_callback_url(self, value: str) -> str:
        if value and not value.lower().startswith(("http://", "https://")):
            raise serializers.ValidationError("Invalid callback URL")
        return value


_ExportId = inline_serializer("LogExportQueued", {"export_id": serializers.CharField(help_text="Id of the export; download at /api/v1/exportlogs/<export_id>.")})


def _queue(request: Request, scope: LogScope, repository_name: str = "") -> Response:
    body = ExportLogsSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    params = body.validated_data
    window = log_window_parse(starttime=params.get("starttime") or None, endtime=params.get("endtime") or None)
    principal = principal_of(request)
    export = log_export_request(
        scope=scope, window=window, requested_by_id=principal.user_id, requested_by_name=principal.name,
        repository_name=repository_name, callback_url=params.get("callback_url") or "", callback_email=params.get("callback_email") or "",
        download_url=lambda export_id: request.build_absolute_uri(reverse("api-exportlogs-download", args=[export_id])),
    )
    return Response({"export_id": str(export.export_id)})


def _schema(operation_id: str, who: str):
    return extend_schema(
        operation_id=operation_id, request=ExportLogsSerializer, responses={200: _ExportId},
        summary="Export audit logs of a date range",
        description=f"{who} The export runs in the background and includes archived entries; it is announced to callback_url / callback_email.",
    )


class RepositoryExportLogsView(APIView):
    permission_classes = [IsAuthenticated]

    @_schema("exportRepoLogs", "The caller must administer the repository (or be a superuser).")
    def post(self, request: Request, repository: str) -> Response:
        scope = _repository_logs_scope(request, repository)
        return _queue(request, scope, repository_name=repository)


class OrganizationExportLogsView(APIView):
    permission_classes = [IsAuthenticated]

    @_schema("exportOrgLogs", "The caller must administer the organization (or be a superuser).")
    def post(self, request: Request, orgname: str) -> Response:
        return _queue(request, _organization_logs_scope(request, orgname))


class UserExportLogsView(APIView):
    permission_classes = [IsUser]

    @_schema("exportUserLogs", "The caller's own entries.")
    def post(self, request: Request) -> Response:
        principal = principal_of(request)
        return _queue(request, LogScope(namespace_name=principal.name, user_id=principal.user_id))


def _may_download(request: Request, export: LogExport) -> bool:
    """The requester (or a superuser) while they may still read the exported logs."""
    principal = principal_of(request)
    if principal.is_anonymous:
        return False
    superuser = principal.is_superuser or principal.is_readonly_superuser
    if not superuser and (principal.user_id is None or principal.user_id != export.requested_by_id):
        return False
    try:
        if export.repository_name:
            _repository_logs_scope(request, export.repository_name)
        elif export.user_id_scope is not None:
            return superuser or principal.user_id == export.user_id_scope
        elif export.everything:
            return superuser
        else:
            _organization_logs_scope(request, export.namespace_name)
    except (PermissionDenied, NotFound):
        return False
    return True


class ExportLogsDownloadView(APIView):
    permission_classes = [AllowAny]  # decided per export: the requester, or a signed link

    @extend_schema(
        operation_id="downloadExportedLogs",
        parameters=[OpenApiParameter("token", str, OpenApiParameter.QUERY, required=False, description="The signed link token sent to the callback (no sign-in needed).")],
        responses={
            200: OpenApiResponse(OpenApiTypes.BINARY, description="The export, a JSON document: export_id, details, logs[], terminated."),
            202: OpenApiResponse(description="Not written yet (state queued or running)."),
            404: OpenApiResponse(description="No such export, or not yours."),
            409: OpenApiResponse(description="The export failed (error)."),
        },
        summary="Download an audit-log export",
    )
    def get(self, request: Request, export_id: str) -> Response | FileResponse:
        export = LogExport.objects.filter(export_id=export_id).first()
        token = request.query_params.get("token", "")
        allowed = export is not None and ((token and export_download_token_valid(export, token)) or _may_download(request, export))
        if not allowed:
            raise NotFound("no such export")
        if export.state == LogExport.State.FAILED:
            return Response({"export_id": str(export.export_id), "state": export.state, "error": export.error}, status=status.HTTP_409_CONFLICT)
        if export.state != LogExport.State.DONE:
            return Response({"export_id": str(export.export_id), "state": export.state}, status=status.HTTP_202_ACCEPTED)
        response = FileResponse(export_open(export), content_type="application/json", as_attachment=True, filename=f"logs-{export.export_id}.json")
        response["Content-Length"] = str(export.size)
        return response


# -- pull statistics -------------------------------------------------------------------------

_TagStats = inline_serializer(
    "TagPullStatistics",
    {
        "tag_name": serializers.CharField(),
        "tag_pull_count": serializers.IntegerField(),
        "last_tag_pull_date": serializers.CharField(allow_null=True, help_text="RFC 2822, UTC; null when never pulled"),
        "current_manifest_digest": serializers.CharField(allow_null=True, help_text="The manifest the tag points at (null once deleted)"),
        "manifest_pull_count": serializers.IntegerField(),
        "last_manifest_pull_date": serializers.CharField(allow_null=True),
    },
)
_ManifestStats = inline_serializer(
    "ManifestPullStatistics",
    {"manifest_digest": serializers.CharField(), "manifest_pull_count": serializers.IntegerField(), "last_manifest_pull_date": serializers.CharField(allow_null=True)},
)


class TagPullStatisticsView(APIView):
    permission_classes = [ReadsAnyoneWritesAuthenticated]

    @extend_schema(
        operation_id="getTagPullStatistics", parameters=[REPOSITORY_PARAMETER, TAG_PARAMETER], responses={200: _TagStats},
        summary="Pull count and last pull of a tag and of the manifest it points at",
        description="Counts pulls through the registry API (GET of the manifest by tag; by digest counts for the manifest only).",
    )
    def get(self, request: Request, repository: str, tag: str) -> Response:
        repo = repository_for_api(request, repository, Action.PULL)
        body = tag_pull_statistics(repository=repo, tag=tag, date=format_date)
        if body is None:
            raise NotFound(f"tag {tag} not found")
        return Response(body)


class ManifestPullStatisticsView(APIView):
    permission_classes = [ReadsAnyoneWritesAuthenticated]

    @extend_schema(
        operation_id="getManifestPullStatistics",
        parameters=[REPOSITORY_PARAMETER, OpenApiParameter("manifestref", str, OpenApiParameter.PATH, description="The manifest digest.")],
        responses={200: _ManifestStats}, summary="Pull count and last pull of a manifest (by tag or by digest)",
    )
    def get(self, request: Request, repository: str, manifestref: str) -> Response:
        repo = repository_for_api(request, repository, Action.PULL)
        if manifest_find_any(repository=repo, digest=manifestref) is None:
            raise NotFound(f"manifest {manifestref} not found")
        return Response(manifest_pull_statistics(repository=repo, digest=manifestref, date=format_date))
