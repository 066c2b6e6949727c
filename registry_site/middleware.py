"""Request metrics by route (the URL pattern's name, never the raw path: bounded labels)."""

from __future__ import annotations

import logging
import time
from typing import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse, UnreadablePostError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from common.errors import UnavailableError
from oci.metrics import LATENCY, REQUESTS
from oci.responses import error_response

logger = logging.getLogger("moorage.backends")


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


class BackendUnavailableMiddleware:
    """A database that is down or restarting (OperationalError, InterfaceError) or an
    unreachable Redis, escaping any view (the /v2 and /api layers catch their own), is a
    temporary outage, not a bug: 503 with ``Retry-After`` so clients retry, OCI error JSON
    under /v2 and the REST error shape elsewhere, instead of a 500 page."""

    RETRY_AFTER_S = 5

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, UnreadablePostError):
            # The client stalled (server.body_idle_timeout_s) or left mid-body; gunicorn closes
            # the connection after this answer. Not a server error.
            logger.info("request body not received on %s %s: %s", request.method, request.path, exception)
            return HttpResponse(f"{exception}\n", status=408, content_type="text/plain")
        if not _is_backend_outage(exception):
            return None
        logger.warning("backend unavailable on %s %s: %s", request.method, request.path, exception)
        message = "the registry's database or cache is temporarily unavailable; retry shortly"
        if request.path.startswith("/v2"):
            response: HttpResponse = error_response(UnavailableError(message, retry_after=self.RETRY_AFTER_S), head=request.method == "HEAD")
        else:
            response = JsonResponse(
                {"status": 503, "error_type": "unavailable", "title": "unavailable", "error_message": message, "detail": message},
                status=503,
            )
        response["Retry-After"] = str(self.RETRY_AFTER_S)
        return response


def _is_backend_outage(exception: BaseException) -> bool:
    return isinstance(exception, (OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError))


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


class FrameAncestorsMiddleware:
    """HTML pages may not be framed by any site (CSP ``frame-ancestors 'none'``, the modern
    form of ``X-Frame-Options: DENY``); a page that sets its own policy keeps it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.get("Content-Type", "").startswith("text/html") and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = "frame-ancestors 'none'"
        return response


#: Views that stream their bodies to storage with their own limits (blob uploads, build contexts).
STREAMED_BODY_PREFIXES = ("/v2/", "/api/v1/filedrop/")


class RequestBodyLimitMiddleware:
    """Every other request body is bounded by ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (the manifest limit
    plus a little). Django enforces it only for form parsing: DRF's JSON parser would read any
    declared length into memory. A larger Content-Length is answered 413 before a byte is read.
    (A chunked body has no Content-Length; Django then reads none of it.)"""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(STREAMED_BODY_PREFIXES):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            if limit is not None and length > limit:
                message = f"request body larger than {limit} bytes"
                if request.path.startswith("/api/"):
                    return JsonResponse(
                        {"status": 413, "error_type": "payload_too_large", "title": "payload_too_large",
                         "error_message": message, "detail": {"max_bytes": limit}},
                        status=413,
                    )
                return HttpResponse(message, status=413, content_type="text/plain")
        return self.get_response(request)
