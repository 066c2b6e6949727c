"""``GET /v2/``, the catalog and unknown routes."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from common.errors import NotFoundError, UnauthorizedError
from common.grammar import validate_repository_name
from oci.auth import bearer_challenge
from oci.responses import json_response
from oci.views.base import RegistryView, next_link, query_int
from repositories.access import Action, readable_repositories
from repositories.selectors import catalog_page


class ApiVersionView(RegistryView):
    def get(self, request: HttpRequest) -> HttpResponse:
        if self.principal(request).is_anonymous and not settings.MOORAGE_REGISTRY["open"]:
            # Clients probe /v2/ first; the challenge tells them where to get a token.
            raise UnauthorizedError(headers=bearer_challenge(request))
        return json_response({})

    head = get


class CatalogView(RegistryView):
    def get(self, request: HttpRequest) -> HttpResponse:
        self.authorize(request, Action.CATALOG, None, "")
        limits = settings.MOORAGE_LIMITS
        n = query_int(request, "n", default=limits["default_catalog_page_size"], maximum=limits["max_page_size"])
        last = request.GET.get("last") or None
        if last:
            validate_repository_name(last)  # a repository name, as the previous page's Link gave it
        page = catalog_page(n=n or 0, last=last, repository_filter=readable_repositories(self.principal(request)))
        headers = {}
        if page.has_more and page.items:
            headers["Link"] = next_link(request.path, n=n, last=page.items[-1])
        return json_response({"repositories": page.items}, headers=headers)


class UnknownRouteView(RegistryView):
    """Every other path under /v2 answers OCI error JSON, whatever the method."""

    def _not_found(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        raise NotFoundError(detail={"path": request.path[:300]})

    get = head = post = put = patch = delete = _not_found
