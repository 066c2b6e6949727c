"""Routes of tags, manifests and labels (Quay's ``tag.py`` and ``manifest.py`` resources).

Repository names may contain slashes (``org/team/app``): the greedy ``repository`` group takes
everything up to the last ``/tag/`` or ``/manifest/`` after which the rest of the route matches.
"""

from django.urls import re_path

from repositories.api.exportlogs import ManifestPullStatisticsView, TagPullStatisticsView
from repositories.api.labels import LabelListView, LabelView
from repositories.api.manifests import ManifestView
from repositories.api.sbom import ManifestSbomView
from repositories.api.tags import TagListView, TagRestoreView, TagView

_REPOSITORY = r"repository/(?P<repository>[^/].*)"
_TAG = r"(?P<tag>[^/]+)"
_DIGEST = r"(?P<manifestref>[^/]+:[^/]+)"

urlpatterns = [
    re_path(rf"^{_REPOSITORY}/tag/$", TagListView.as_view(), name="api-tags"),
    re_path(rf"^{_REPOSITORY}/tag/{_TAG}/restore$", TagRestoreView.as_view(), name="api-tag-restore"),
    re_path(rf"^{_REPOSITORY}/tag/{_TAG}/pull_statistics$", TagPullStatisticsView.as_view(), name="api-tag-pull-statistics"),
    re_path(rf"^{_REPOSITORY}/tag/{_TAG}$", TagView.as_view(), name="api-tag"),
    re_path(rf"^{_REPOSITORY}/manifest/{_DIGEST}/pull_statistics$", ManifestPullStatisticsView.as_view(), name="api-manifest-pull-statistics"),
    re_path(rf"^{_REPOSITORY}/manifest/{_DIGEST}/sbom$", ManifestSbomView.as_view(), name="api-manifest-sbom"),
    re_path(rf"^{_REPOSITORY}/manifest/{_DIGEST}/labels$", LabelListView.as_view(), name="api-manifest-labels"),
    re_path(rf"^{_REPOSITORY}/manifest/{_DIGEST}/labels/(?P<labelid>[^/]+)$", LabelView.as_view(), name="api-manifest-label"),
    re_path(rf"^{_REPOSITORY}/manifest/{_DIGEST}$", ManifestView.as_view(), name="api-manifest"),
]
