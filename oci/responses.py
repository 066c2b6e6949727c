"""Response helpers for /v2: OCI error JSON, repeated headers, empty bodies."""

from __future__ import annotations

import json
from typing import Any, Iterable

from django.http import HttpResponse

from common.errors import RegistryError

API_VERSION_HEADER = ("Docker-Distribution-API-Version", "registry/2.0")


class OCIResponse(HttpResponse):
    """An HttpResponse that can repeat a header (``OCI-Tag`` once per tag)."""

    def __init__(self, *args: Any, repeated_headers: Iterable[tuple[str, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.repeated_headers = list(repeated_headers)

    def items(self):  # used by Django's WSGI handler to emit headers
        return [*super().items(), *self.repeated_headers]


def empty(status: int, headers: dict[str, str] | None = None, repeated_headers: Iterable[tuple[str, str]] = ()) -> OCIResponse:
    response = OCIResponse(b"", status=status, repeated_headers=repeated_headers)
    del response["Content-Type"]  # no body, so no type (Django would claim text/html)
    response["Content-Length"] = "0"
    for key, value in (headers or {}).items():
        response[key] = value
    return response


def json_response(data: Any, *, status: int = 200, content_type: str = "application/json", headers: dict[str, str] | None = None) -> HttpResponse:
    body = json.dumps(data, separators=(",", ":")).encode()
    response = HttpResponse(body, status=status, content_type=content_type)
    response["Content-Length"] = str(len(body))
    for key, value in (headers or {}).items():
        response[key] = value
    return response


def error_response(error: RegistryError, *, head: bool = False) -> HttpResponse:
    body = json.dumps({"errors": error.as_dicts()}).encode()
    response = HttpResponse(b"" if head else body, status=error.http_status, content_type="application/json")
    response["Content-Length"] = str(len(body))
    for key, value in error.headers.items():
        response[key] = value
    return response
