"""``/api/v1/repository/<repo>/tag/``: tag history, create/move, expiry, immutability, delete and
time-machine restore, with Quay's paths, parameters and field names."""

from __future__ import annotations

from calendar import timegm
from datetime import datetime
from datetime import timezone as dt_timezone
from email.utils import formatdate
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import SAFE_METHODS, AllowAny, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.authentication import principal_of
from common import serializers
from repositories.access import Action
from repositories.api.access import repository_for_api
from repositories.selectors_tags import MAX_PAGE_SIZE, TagRow, tag_history_page
from repositories.services.audit import RequestInfo
from repositories.services.tags import tag_create_or_move, tag_remove, tag_restore, tag_set_expiration, tag_set_immutable

REPOSITORY_PARAMETER = OpenApiParameter(
    "repository", str, OpenApiParameter.PATH, description="The full path of the repository, e.g. namespace/name (names may contain '/')."
)
TAG_PARAMETER = OpenApiParameter("tag", str, OpenApiParameter.PATH, description="The name of the tag.")


def request_info(request: Any) -> RequestInfo:
    return RequestInfo.of(request)


def format_date(value: datetime | None) -> str | None:
    """Quay's date format (RFC 822, in UTC): ``Tue, 01 Dec 2026 10:00:00 -0000``."""
    if value is None:
        return None
    return formatdate(timegm(value.astimezone(dt_timezone.utc).utctimetuple()))


class ReadsAnyoneWritesAuthenticated(BasePermission):
    """Reads are decided by the authority (anonymous callers may read public repositories);
    writes need a caller (401 otherwise), then the authority decides."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return request.method in SAFE_METHODS or IsAuthenticated().has_permission(request, view)


# -- serializers ---------------------------------------------------------------------------------
class TagListQuerySerializer(serializers.Serializer):
    onlyActiveTags = serializers.BooleanField(required=False, default=False, help_text="Only tags alive now (no history).")
    specificTag = serializers.CharField(required=False, allow_blank=True, default="", help_text="Only lifetimes of this tag.")
    filter_tag_name = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="`like:<part>` (case-insensitive substring) or `eq:<name>`."
    )
    page = serializers.IntegerField(required=False, default=1, help_text="Page index, from 1.")
    limit = serializers.IntegerField(required=False, default=50, help_text=f"Results per page (at most {MAX_PAGE_SIZE}).")


class TagSerializer(serializers.Serializer):
    name = serializers.CharField()
    reversion = serializers.BooleanField(help_text="This lifetime was started by a time-machine restore.")
    start_ts = serializers.IntegerField(required=False, help_text="Start of this lifetime, Unix seconds.")
    end_ts = serializers.IntegerField(required=False, help_text="End (or set expiry) of this lifetime, Unix seconds.")
    manifest_digest = serializers.CharField()
    is_manifest_list = serializers.BooleanField()
    size = serializers.IntegerField(allow_null=True, help_text="Compressed size of the layers (null for a manifest list).")
    last_modified = serializers.CharField(required=False)
    expiration = serializers.CharField(required=False, help_text="When the lifetime ended or will end (RFC 822 date).")
    immutable = serializers.BooleanField()


class TagListSerializer(serializers.Serializer):
    tags = TagSerializer(many=True)
    page = serializers.IntegerField()
    has_additional = serializers.BooleanField()


class TagChangeSerializer(serializers.Serializer):
    manifest_digest = serializers.CharField(required=False, allow_null=True, help_text="Point the tag at this manifest (create or move).")
    expiration = serializers.FloatField(required=False, allow_null=True, help_text="Unix seconds in the future; null clears the expiry.")
    immutable = serializers.BooleanField(required=False, help_text="true: the tag may no longer move, expire or be deleted (admin to unset).")


class TagRestoreSerializer(serializers.Serializer):
    manifest_digest = serializers.CharField(required=False, help_text="A manifest the tag pointed at within the time-machine window.")


def tag_dict(row: TagRow) -> dict[str, Any]:
    tag = row.tag
    info: dict[str, Any] = {"name": tag.name, "reversion": tag.reversion}
    start_ts = int(tag.lifetime_start.timestamp())
    if start_ts > 0:
        info["start_ts"] = start_ts
    if row.end is not None:
        info["end_ts"] = int(row.end.timestamp())
    info["manifest_digest"] = tag.manifest.digest
    info["is_manifest_list"] = row.is_manifest_list
    info["size"] = row.size
    if start_ts > 0:
        info["last_modified"] = format_date(tag.lifetime_start)
    if row.end is not None:
        info["expiration"] = format_date(row.end)
    info["immutable"] = tag.immutable
    return info


# -- views ---------------------------------------------------------------------------------------
class TagListView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="listRepoTags",
        summary="List a repository's tags, alive and dead",
        description="Every lifetime of every tag, newest first; ended ones too unless `onlyActiveTags`. Hidden tags never.",
        parameters=[REPOSITORY_PARAMETER, TagListQuerySerializer],
        responses={200: TagListSerializer},
        examples=[
            OpenApiExample(
                "A moved tag",
                response_only=True,
                value={
                    "tags": [
                        {
                            "name": "latest", "reversion": False, "start_ts": 1795000000, "manifest_digest": "sha256:" + "b" * 64,
                            "is_manifest_list": False, "size": 3145728, "last_modified": "Sat, 19 Nov 2026 10:13:20 -0000", "immutable": False,
                        },
                        {
                            "name": "latest", "reversion": False, "start_ts": 1794000000, "end_ts": 1795000000,
                            "manifest_digest": "sha256:" + "a" * 64, "is_manifest_list": False, "size": 3140000,
                            "last_modified": "Mon, 07 Nov 2026 20:26:40 -0000", "expiration": "Sat, 19 Nov 2026 10:13:20 -0000", "immutable": False,
                        },
                    ],
                    "page": 1,
                    "has_additional": False,
                },
            )
        ],
    )
    def get(self, request: Request, repository: str) -> Response:
        repo = repository_for_api(request, repository, Action.PULL)
        query = TagListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        result = tag_history_page(
            repository=repo, page=params["page"], limit=params["limit"], specific_tag=params["specificTag"] or None,
            filter_tag_name=params["filter_tag_name"] or None, only_active=params["onlyActiveTags"],
        )
        return Response({"tags": [tag_dict(row) for row in result.rows], "page": result.page, "has_additional": result.has_additional})


class TagView(APIView):
    permission_classes = [ReadsAnyoneWritesAuthenticated]

    @extend_schema(
        operation_id="changeTag",
        summary="Create or move a tag, set its expiration or immutability",
        description=(
            "`manifest_digest` points the tag at a manifest of the repository (409 TAG_IMMUTABLE when the tag is immutable); "
            "`expiration` (Unix seconds, or null to clear) sets when it expires; `immutable` sets immutability "
            "(making a tag mutable again needs admin)."
        ),
        parameters=[REPOSITORY_PARAMETER, TAG_PARAMETER],
        request=TagChangeSerializer,
        responses={201: OpenApiResponse(OpenApiTypes.STR, description="Updated")},
        examples=[
            OpenApiExample("Move the tag", request_only=True, value={"manifest_digest": "sha256:" + "b" * 64}),
            OpenApiExample("Expire in the future", request_only=True, value={"expiration": 1796000000}),
            OpenApiExample("Lock the tag", request_only=True, value={"immutable": True}),
        ],
    )
    def put(self, request: Request, repository: str, tag: str) -> Response:
        repo = repository_for_api(request, repository, Action.PUSH)
        body = TagChangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        changes = body.validated_data
        unlock = changes.get("immutable") is False
        if unlock:
            repository_for_api(request, repository, Action.ADMIN)
        who = {"actor": principal_of(request), "request": request_info(request)}
        if unlock:
            tag_set_immutable(repository=repo, name=tag, immutable=False, **who)
        if changes.get("manifest_digest"):
            tag_create_or_move(repository=repo, name=tag, manifest_digest=changes["manifest_digest"], **who)
        if "expiration" in changes:
            expires_at = _expiration(changes["expiration"])
            tag_set_expiration(repository=repo, name=tag, expires_at=expires_at, **who)
        if changes.get("immutable") is True:
            tag_set_immutable(repository=repo, name=tag, immutable=True, **who)
        return Response("Updated", status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="deleteFullTag",
        summary="Delete a tag (its lifetime ends; it stays restorable within the time-machine window)",
        parameters=[REPOSITORY_PARAMETER, TAG_PARAMETER],
        request=None,
        responses={204: OpenApiResponse(description="deleted")},
    )
    def delete(self, request: Request, repository: str, tag: str) -> Response:
        repo = repository_for_api(request, repository, Action.PUSH)
        tag_remove(repository=repo, name=tag, actor=principal_of(request), request=request_info(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _expiration(value: float | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(value, tz=dt_timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise serializers.ValidationError({"expiration": ["not a representable Unix time"]}) from None


class TagRestoreView(APIView):
    permission_classes = [ReadsAnyoneWritesAuthenticated]

    @extend_schema(
        operation_id="restoreTag",
        summary="Restore a tag to a manifest it pointed at within the time-machine window",
        description="Starts a new lifetime flagged `reversion`. 400 when the manifest is not in the tag's recent history.",
        parameters=[REPOSITORY_PARAMETER, TAG_PARAMETER],
        request=TagRestoreSerializer,
        responses={200: OpenApiResponse(description="restored (an empty object)")},
        examples=[OpenApiExample("Restore", request_only=True, value={"manifest_digest": "sha256:" + "a" * 64})],
    )
    def post(self, request: Request, repository: str, tag: str) -> Response:
        repo = repository_for_api(request, repository, Action.PUSH)
        body = TagRestoreSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        digest = body.validated_data.get("manifest_digest")
        if not digest:
            raise serializers.ValidationError({"manifest_digest": ["Missing manifest_digest"]})
        tag_restore(repository=repo, name=tag, manifest_digest=digest, actor=principal_of(request), request=request_info(request))
        return Response({})
