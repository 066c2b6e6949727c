"""Request metrics by route (the URL pattern's name, never the raw path: bounded labels)."""

from __future__ import annotations

import time
from typing import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from oci.metrics import LATENCY, REQUESTS


class MetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = (match.url_name or match.route) if match else "unmatched"
        REQUESTS.labels(route=route, method=request.method, status=str(response.status_code)).inc()
        LATENCY.labels(route=route).observe(time.perf_counter() - started)
        return response


class RejectNulBytesMiddleware:
    """A NUL byte in an API path or query can never name anything, and PostgreSQL refuses it in
    a query ("A string literal cannot contain NUL"): answer 400 before any view runs.
    (/v2 validates names, digests and tags itself.)"""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/") and ("\x00" in request.path or "%00" in request.META.get("QUERY_STRING", "")):
            return JsonResponse(
                {"status": 400, "error_type": "invalid_request", "title": "invalid_request",
                 "error_message": "NUL bytes are not allowed in paths or query strings", "detail": "NUL bytes are not allowed in paths or query strings"},
                status=400,
            )
        return self.get_response(request)
