"""Site-wide error pages for routes no app answered (``handler404`` / ``handler500``).

/v2 has its own catch-all (OCI error JSON) and the REST API renders its own errors; these cover
what is left: an unknown /api path answers in the API's JSON error shape (a script gets JSON, not
an HTML page), anything else gets the web UI's page with navigation.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader

from repositories.web.views import not_found


def _api_error(status: int, error_type: str, message: str) -> JsonResponse:
    # the shape of the REST API's own errors (common/api.py), so clients parse one format
    return JsonResponse(
        {"status": status, "error_type": error_type, "title": error_type, "error_message": message, "detail": message},
        status=status,
    )


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return _api_error(404, "not_found", f"no API endpoint at {request.path}")
    return not_found(request, "page")


def server_error(request: HttpRequest) -> HttpResponse:
    # No request context: whatever broke (the database, a context processor) must not break this too.
    if request.path.startswith("/api/"):
        return _api_error(500, "server_error", "the server failed to answer; the error is logged")
    return HttpResponse(loader.get_template("500.html").render(), status=500)
