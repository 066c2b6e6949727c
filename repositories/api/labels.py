"""``/api/v1/repository/<repo>/manifest/<digest>/labels``: list, add, get and delete manifest labels."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.authentication import principal_of
from common import serializers
from repositories.access import Action
from repositories.api.manifests import DIGEST_PARAMETER, manifest_for_api
from repositories.api.tags import REPOSITORY_PARAMETER, ReadsAnyoneWritesAuthenticated, request_info
from repositories.models import Label
from repositories.selectors_tags import manifest_label_find, manifest_labels
from repositories.services.labels import LABEL_MEDIA_TYPES, label_add, label_delete

LABEL_PARAMETER = OpenApiParameter("labelid", str, OpenApiParameter.PATH, description="The ID of the label.")


class LabelSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    key = serializers.CharField()
    value = serializers.CharField()
    source_type = serializers.ChoiceField(choices=Label.Source.values, help_text="manifest: from the image config (immutable); api: added here.")
    media_type = serializers.CharField()


class LabelListSerializer(serializers.Serializer):
    labels = LabelSerializer(many=True)


class LabelCreatedSerializer(serializers.Serializer):
    label = LabelSerializer()


class LabelAddSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=255, help_text="The key for the label, e.g. com.example.owner.")
    value = serializers.CharField(allow_blank=True, trim_whitespace=False, help_text="The value for the label.")
    media_type = serializers.ChoiceField(
        choices=LABEL_MEDIA_TYPES, allow_null=True, required=False, default=None,
        help_text="text/plain or application/json; null guesses from the value.",
    )


class LabelFilterSerializer(serializers.Serializer):
    filter = serializers.CharField(required=False, allow_blank=True, default="", help_text="Only labels whose key starts with this prefix.")


def label_dict(label: Label) -> dict[str, Any]:
    return {"id": str(label.uuid), "key": label.key, "value": label.value, "source_type": label.source, "media_type": label.media_type}


class LabelListView(APIView):
    permission_classes = [ReadsAnyoneWritesAuthenticated]

    @extend_schema(
        operation_id="listManifestLabels",
        summary="List a manifest's labels",
        parameters=[REPOSITORY_PARAMETER, DIGEST_PARAMETER, LabelFilterSerializer],
        responses={200: LabelListSerializer},
        examples=[
            OpenApiExample(
                "Labels",
                response_only=True,
                value={
                    "labels": [
                        {"id": "6f1c4f0e-2b7a-4f57-9a43-0c7f5b7d8e21", "key": "quay.expires-after", "value": "2w",
                         "source_type": "manifest", "media_type": "text/plain"},
                    ]
                },
            )
        ],
    )
    def get(self, request: Request, repository: str, manifestref: str) -> Response:
        _repo, manifest = manifest_for_api(request, repository, manifestref, Action.PULL)
        query = LabelFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        labels = manifest_labels(manifest=manifest, prefix=query.validated_data["filter"] or None)
        return Response({"labels": [label_dict(label) for label in labels]})

    @extend_schema(
        operation_id="addManifestLabel",
        summary="Add a label to a manifest",
        parameters=[REPOSITORY_PARAMETER, DIGEST_PARAMETER],
        request=LabelAddSerializer,
        responses={201: LabelCreatedSerializer},
        examples=[OpenApiExample("Add", request_only=True, value={"key": "com.example.owner", "value": "team-a", "media_type": "text/plain"})],
    )
    def post(self, request: Request, repository: str, manifestref: str) -> Response:
        repo, manifest = manifest_for_api(request, repository, manifestref, Action.PUSH)
        body = LabelAddSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        label = label_add(
            manifest=manifest, key=data["key"], value=data["value"], media_type=data["media_type"],
            actor=principal_of(request), request=request_info(request),
        )
        location = reverse("api-manifest-label", kwargs={"repository": repo.full_name, "manifestref": manifest.digest, "labelid": str(label.uuid)})
        return Response({"label": label_dict(label)}, status=status.HTTP_201_CREATED, headers={"Location": location})


class LabelView(APIView):
    permission_classes = [ReadsAnyoneWritesAuthenticated]

    @extend_schema(
        operation_id="getManifestLabel",
        summary="Get one label of a manifest",
        parameters=[REPOSITORY_PARAMETER, DIGEST_PARAMETER, LABEL_PARAMETER],
        responses={200: LabelSerializer},
    )
    def get(self, request: Request, repository: str, manifestref: str, labelid: str) -> Response:
        _repo, manifest = manifest_for_api(request, repository, manifestref, Action.PULL)
        label = manifest_label_find(manifest=manifest, label_id=labelid)
        if label is None:
            raise NotFound("label not found")
        return Response(label_dict(label))

    @extend_schema(
        operation_id="deleteManifestLabel",
        summary="Delete a label added through the API (labels from the image config are immutable: 400)",
        parameters=[REPOSITORY_PARAMETER, DIGEST_PARAMETER, LABEL_PARAMETER],
        request=None,
        responses={204: OpenApiResponse(description="deleted")},
    )
    def delete(self, request: Request, repository: str, manifestref: str, labelid: str) -> Response:
        _repo, manifest = manifest_for_api(request, repository, manifestref, Action.PUSH)
        label_delete(manifest=manifest, label_id=labelid, actor=principal_of(request), request=request_info(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
