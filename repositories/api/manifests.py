"""``/api/v1/repository/<repo>/manifest/<digest>``: a manifest's details (Quay's ``getRepoManifest``)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common import serializers
from common.grammar import DIGEST_RE
from repositories.access import Action
from repositories.api.access import repository_for_api
from repositories.api.tags import REPOSITORY_PARAMETER, format_date
from repositories.media_types import INDEX_TYPES
from repositories.models import Manifest, Repository
from repositories.selectors import manifest_find
from repositories.selectors_tags import manifest_layers

DIGEST_PARAMETER = OpenApiParameter("manifestref", str, OpenApiParameter.PATH, description="The digest of the manifest.")


def manifest_for_api(request: Request, repository: str, manifestref: str, action: Action) -> tuple[Repository, Manifest]:
    """The repository (through the authority) and its manifest ``manifestref``; 404 otherwise."""
    repo = repository_for_api(request, repository, action)
    manifest = manifest_find(repository=repo, digest=manifestref) if DIGEST_RE.match(manifestref) else None
    if manifest is None:
        raise NotFound(f"manifest {manifestref[:200]} not found in {repo.full_name}")
    return repo, manifest


class LayerSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    compressed_size = serializers.IntegerField()
    is_remote = serializers.BooleanField()
    urls = serializers.ListField(child=serializers.CharField(), allow_null=True)
    command = serializers.ListField(child=serializers.CharField(), allow_null=True, help_text="The history's created_by.")
    comment = serializers.CharField(allow_null=True)
    author = serializers.CharField(allow_null=True)
    blob_digest = serializers.CharField()
    created_datetime = serializers.CharField(allow_null=True)


class ManifestSerializer(serializers.Serializer):
    digest = serializers.CharField()
    is_manifest_list = serializers.BooleanField()
    manifest_data = serializers.CharField(help_text="The manifest exactly as pushed (a JSON string).")
    config_media_type = serializers.CharField(allow_null=True)
    layers = LayerSerializer(many=True, allow_null=True, help_text="null for a manifest list or index.")


class ManifestView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="getRepoManifest",
        summary="Get a manifest: its exact bytes, config media type and layers",
        parameters=[REPOSITORY_PARAMETER, DIGEST_PARAMETER],
        responses={200: ManifestSerializer},
        examples=[
            OpenApiExample(
                "An image",
                response_only=True,
                value={
                    "digest": "sha256:" + "a" * 64,
                    "is_manifest_list": False,
                    "manifest_data": '{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", ...}',
                    "config_media_type": "application/vnd.oci.image.config.v1+json",
                    "layers": [
                        {
                            "index": 0, "compressed_size": 3145728, "is_remote": False, "urls": None,
                            "command": ["/bin/sh -c #(nop) ADD file:... in / "], "comment": None, "author": None,
                            "blob_digest": "sha256:" + "c" * 64, "created_datetime": "Mon, 07 Nov 2026 20:26:40 -0000",
                        }
                    ],
                },
            )
        ],
    )
    def get(self, request: Request, repository: str, manifestref: str) -> Response:
        _repo, manifest = manifest_for_api(request, repository, manifestref, Action.PULL)
        layers = manifest_layers(manifest=manifest)
        return Response(
            {
                "digest": manifest.digest,
                "is_manifest_list": manifest.media_type in INDEX_TYPES,
                "manifest_data": bytes(manifest.content).decode("utf-8", errors="replace"),
                "config_media_type": manifest.config_media_type or None,
                "layers": [
                    {
                        "index": layer.index,
                        "compressed_size": layer.compressed_size,
                        "is_remote": layer.is_remote,
                        "urls": layer.urls,
                        "command": layer.command,
                        "comment": layer.comment,
                        "author": layer.author,
                        "blob_digest": layer.blob_digest,
                        "created_datetime": format_date(layer.created_datetime),
                    }
                    for layer in layers
                ]
                if layers
                else None,
            }
        )
