"""Request metrics by route (the URL pattern's name, never the raw path: bounded labels)."""

from __future__ import annotations

import time
from typing import Callable

from django.http import HttpRequest, HttpResponse

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
