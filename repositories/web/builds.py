"""Web UI of builds: one build's log page (the repository page lists recent builds through
``repositories.web.builds_selectors``),
which keeps polling ``/api/v1/repository/<repo>/build/<uuid>/logs?start=N`` while the build runs."""

from __future__ import annotations

import uuid

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from repositories.access import Action, is_allowed
from repositories.models.builds import RepositoryBuild
from repositories.services.build_logs import build_log_read
from repositories.web import selectors
from repositories.web.views import NotFound, answers_404

@require_GET
@answers_404
def build_log_page(request: HttpRequest, name: str, build_uuid: str) -> HttpResponse:
    principal = selectors.principal_of_request(request)
    repository = selectors.readable_repository(principal=principal, full_name=name)
    if repository is None or not is_allowed(principal, Action.PUSH, repository):
        raise NotFound("repository")
    try:
        key = uuid.UUID(build_uuid)
    except ValueError:
        raise NotFound("build") from None
    build = RepositoryBuild.objects.filter(repository=repository, uuid=key).select_related("trigger").first()
    if build is None:
        raise NotFound("build")
    page = build_log_read(build=build)
    context = {
        "repository": repository, "build": build, "logs": page.logs, "total": page.total,
        "is_organization": selectors.is_organization_namespace(repository.namespace_id),
        "logs_url": f"/api/v1/repository/{repository.full_name}/build/{build.uuid.hex}/logs",
    }
    return render(request, "web/build.html", context)
