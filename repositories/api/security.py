"""Scan results over the API: Quay's ``GET .../manifest/<digest>/security`` and a per-repository
summary (finding counts by severity per tag). Reading needs pull access to the repository."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common import serializers
from common.query_params import query_bool
from repositories.access import Action
from repositories.api.access import repository_for_api
from repositories.api.manifests import DIGEST_PARAMETER, manifest_for_api
from repositories.api.tags import REPOSITORY_PARAMETER
from repositories.selectors_security import SEVERITIES, manifest_security_report, repository_security_summary

VULNERABILITIES_PARAMETER = OpenApiParameter(
    "vulnerabilities", bool, OpenApiParameter.QUERY, description="Include each package's vulnerabilities (Quay's parameter)."
)

_EXAMPLE = {
    "status": "scanned",
    "data": {
        "Layer": {
            "Name": "sha256:" + "a" * 64, "ParentName": "", "NamespaceName": "Debian:12", "IndexedByVersion": 1,
            "Features": [
                {
                    "Name": "openssl", "VersionFormat": "dpkg", "NamespaceName": "Debian:12", "AddedBy": "sha256:" + "b" * 64,
                    "Version": "3.0.11-1~deb12u1", "BaseScores": [], "CVEIds": ["CVE-2023-5678"],
                    "Vulnerabilities": [
                        {
                            "Name": "DSA-5585-1", "NamespaceName": "Debian:12", "Description": "openssl -- security update",
                            "Link": "https://security-tracker.debian.org/tracker/DSA-5585-1", "Severity": "High",
                            "FixedBy": "3.0.11-1~deb12u2",
                            "Metadata": {"UpdatedBy": "Debian:12", "RepoName": None, "RepoLink": None, "DistroName": "Debian", "DistroVersion": "12", "Aliases": ["CVE-2023-5678"]},
                        }
                    ],
                }
            ],
        }
    },
}


class ManifestSecurityView(APIView):
    permission_classes = [AllowAny]  # the access authority decides, in manifest_for_api

    @extend_schema(
        operation_id="getManifestSecurity",
        summary="A manifest's vulnerability report (Quay's shape)",
        description=(
            "``status`` is queued (not indexed yet, or being indexed), scanned, failed (retried with backoff) or "
            "unsupported (not a container image: Helm charts, signatures, SBOMs ...). For an index, ``platforms`` "
            "holds one report per listed manifest and ``status`` sums them up."
        ),
        parameters=[REPOSITORY_PARAMETER, DIGEST_PARAMETER, VULNERABILITIES_PARAMETER],
        responses={200: inline_serializer("ManifestSecurity", {"status": serializers.CharField(), "data": serializers.JSONField(allow_null=True)})},
        examples=[OpenApiExample("A scanned image", response_only=True, value=_EXAMPLE)],
    )
    def get(self, request: Request, repository: str, manifestref: str) -> Response:
        _repo, manifest = manifest_for_api(request, repository, manifestref, Action.PULL)
        vulnerabilities = query_bool(request.query_params, "vulnerabilities")
        return Response(manifest_security_report(manifest=manifest, vulnerabilities=vulnerabilities))


_COUNTS = inline_serializer("SeverityCounts", {severity: serializers.IntegerField() for severity in SEVERITIES})


class RepositorySecuritySummaryView(APIView):
    permission_classes = [AllowAny]  # the access authority decides, in repository_for_api

    @extend_schema(
        operation_id="getRepoSecuritySummary",
        summary="Vulnerability counts by severity for each tag of a repository",
        parameters=[REPOSITORY_PARAMETER],
        responses={200: inline_serializer("RepositorySecuritySummary", {
            "tags": inline_serializer("TagSecuritySummary", {
                "name": serializers.CharField(), "manifest_digest": serializers.CharField(), "status": serializers.CharField(),
                "counts": _COUNTS, "total": serializers.IntegerField(), "fixable": serializers.IntegerField(),
            }, many=True),
        })},
    )
    def get(self, request: Request, repository: str) -> Response:
        repo = repository_for_api(request, repository, Action.PULL)
        return Response({"tags": repository_security_summary(repository=repo)})
