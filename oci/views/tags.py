"""``GET /v2/<name>/tags/list``."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from common.grammar import validate_tag
from oci.responses import json_response
from oci.views.base import RegistryView, next_link, query_int
from repositories.selectors import tag_names_page


class TagsListView(RegistryView):
    def get(self, request: HttpRequest, name: str) -> HttpResponse:
        repository = self.repository_for_read(request, name)
        n = query_int(request, "n", default=None, maximum=settings.MOORAGE_LIMITS["max_page_size"])
        last = request.GET.get("last") or None
        if last:
            validate_tag(last)  # the spec: "<tagname> ... MUST be a proper tag"
        if n == 0:
            return json_response({"name": name, "tags": []})
        page = tag_names_page(repository=repository, n=n, last=last)
        headers = {}
        if page.has_more and page.items:
            headers["Link"] = next_link(request.path, n=n, last=page.items[-1])
        return json_response({"name": name, "tags": page.items}, headers=headers)
