"""The REST API's error rendering: one JSON shape for every error, Quay's field names.

``{"status", "error_type", "title", "error_message", "detail"}`` plus ``errors`` (field errors) on
validation failures. RegistryError subclasses map by their ``code`` and ``http_status``.
"""

from __future__ import annotations

from typing import Any

from django.db import DatabaseError, InterfaceError, OperationalError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from common.errors import RegistryError

_DRF_TYPES = {
    exceptions.ValidationError: "invalid_request",
    exceptions.ParseError: "invalid_request",
    exceptions.NotAuthenticated: "unauthorized",
    exceptions.AuthenticationFailed: "unauthorized",
    exceptions.PermissionDenied: "forbidden",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "too_many_requests",
}


def _error_body(status_code: int, error_type: str, message: str, detail: Any = None, errors: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": status_code,
        "error_type": error_type,
        "title": error_type,
        "error_message": message,
        "detail": detail if detail is not None else message,
    }
    if errors is not None:
        body["errors"] = errors
    return body


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, RegistryError):
        response = Response(_error_body(exc.http_status, exc.code.lower(), exc.message, exc.detail), status=exc.http_status)
        for key, value in exc.headers.items():
            if key.lower() != "www-authenticate":
                response[key] = value
        return response
    if isinstance(exc, (OperationalError, InterfaceError)):
        # the database is unreachable or restarting: the client should retry, not give up
        response = Response(_error_body(503, "unavailable", "the database is temporarily unavailable"), status=503)
        response["Retry-After"] = "5"
        return response
    if isinstance(exc, DatabaseError) and "did not affect any rows" in str(exc):
        # the row was deleted by a concurrent request between our read and our write
        return Response(_error_body(409, "conflict", "the object was changed or deleted by another request; retry"), status=409)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real server error: Django logs it and answers 500 without a trace
    error_type = next((name for cls, name in _DRF_TYPES.items() if isinstance(exc, cls)), "error")
    if isinstance(exc, exceptions.ValidationError):
        response.data = _error_body(status.HTTP_400_BAD_REQUEST, error_type, "invalid input", errors=exc.detail)
    else:
        message = str(getattr(exc, "detail", exc))
        response.data = _error_body(response.status_code, error_type, message)
    return response
