"""Routes of the OCI Distribution API. Names may contain slashes, so the patterns are regexes."""

from django.urls import re_path

from oci.views.blobs import BlobView
from oci.views.manifests import ManifestView
from oci.views.referrers import ReferrersView
from oci.views.registry import ApiVersionView, CatalogView, UnknownRouteView
from oci.views.tags import TagsListView
from oci.views.token import TokenView
from oci.views.uploads import UploadStartView, UploadView

NAME = r"(?P<name>[^?#]+?)"

urlpatterns = [
    re_path(r"^v2/?$", ApiVersionView.as_view(), name="oci-base"),
    re_path(r"^v2/auth$", TokenView.as_view(), name="oci-token"),
    re_path(r"^v2/_catalog$", CatalogView.as_view(), name="oci-catalog"),
    re_path(rf"^v2/{NAME}/tags/list$", TagsListView.as_view(), name="oci-tags"),
    re_path(rf"^v2/{NAME}/manifests/(?P<reference>[^/]+)$", ManifestView.as_view(), name="oci-manifest"),
    re_path(rf"^v2/{NAME}/blobs/uploads/?$", UploadStartView.as_view(), name="oci-upload-start"),
    re_path(rf"^v2/{NAME}/blobs/uploads/(?P<upload_id>[^/]+)$", UploadView.as_view(), name="oci-upload"),
    re_path(rf"^v2/{NAME}/blobs/(?P<digest>[^/]+)$", BlobView.as_view(), name="oci-blob"),
    re_path(rf"^v2/{NAME}/referrers/(?P<digest>[^/]+)$", ReferrersView.as_view(), name="oci-referrers"),
    re_path(r"^v2/.*$", UnknownRouteView.as_view(), name="oci-unknown"),
]
