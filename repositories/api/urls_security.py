"""Routes of scan results (issue #8). Included before the bare ``repository/<repo>`` route."""

from django.urls import re_path

from repositories.api.security import ManifestSecurityView, RepositorySecuritySummaryView

_REPOSITORY = r"repository/(?P<repository>[^/].*)"
_DIGEST = r"(?P<manifestref>[^/]+:[^/]+)"

urlpatterns = [
    re_path(rf"^{_REPOSITORY}/manifest/{_DIGEST}/security$", ManifestSecurityView.as_view(), name="api-manifest-security"),
    re_path(rf"^{_REPOSITORY}/securitysummary$", RepositorySecuritySummaryView.as_view(), name="api-repository-security-summary"),
]
