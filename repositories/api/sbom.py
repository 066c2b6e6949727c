"""``GET /api/v1/repository/<repo>/manifest/<digest>/sbom?format=spdx|cyclonedx``: an image
manifest's software bill of materials (SPDX 2.3 or CycloneDX 1.5 JSON)."""

from __future__ import annotations

from types import SimpleNamespace

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from repositories.access import Action
from repositories.api.manifests import DIGEST_PARAMETER, manifest_for_api
from repositories.api.tags import REPOSITORY_PARAMETER
from repositories.scanning.sbom import FORMATS
from repositories.selectors_sbom import SbomUnavailable, manifest_sbom

FORMAT_PARAMETER = OpenApiParameter("format", str, OpenApiParameter.QUERY, enum=list(FORMATS), default="spdx",
                                    description="spdx (SPDX 2.3 JSON) or cyclonedx (CycloneDX 1.5 JSON).")


class _FormatIsOurs(DefaultContentNegotiation):
    """``?format=`` names the SBOM format here, not DRF's renderer override."""

    settings = SimpleNamespace(URL_FORMAT_OVERRIDE=None)


class ManifestSbomView(APIView):
    permission_classes = [AllowAny]
    content_negotiation_class = _FormatIsOurs

    @extend_schema(
        operation_id="getRepoManifestSbom",
        summary="Get the SBOM of an image manifest",
        description=(
            "The packages the scanner found in the image as an SPDX 2.3 or CycloneDX 1.5 JSON document, each with its "
            "package URL and license. 404 while the manifest is not scanned (or for an index: ask for a platform manifest)."
        ),
        parameters=[REPOSITORY_PARAMETER, DIGEST_PARAMETER, FORMAT_PARAMETER],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="The SBOM document."), 400: None, 404: None},
    )
    def get(self, request: Request, repository: str, manifestref: str) -> Response:
        fmt = request.query_params.get("format", "spdx")
        if fmt not in FORMATS:
            raise ValidationError({"format": [f"unknown format {fmt[:50]!r}: use spdx or cyclonedx"]})
        repo, manifest = manifest_for_api(request, repository, manifestref, Action.PULL)
        try:
            document = manifest_sbom(repository=repo, manifest=manifest, fmt=fmt)
        except SbomUnavailable as exc:
            raise NotFound(exc.reason) from exc
        response = Response(document)
        response["Content-Disposition"] = f'inline; filename="sbom.{fmt}.json"'
        return response
