"""Who is calling /v2. HTTP Basic with a Moorage user for now; Docker token auth arrives with #3."""

from __future__ import annotations

import base64
import binascii

from django.contrib.auth import authenticate
from django.http import HttpRequest

from common.errors import UnauthorizedError
from repositories.access import ANONYMOUS, Principal

REALM = "Moorage"


def basic_challenge() -> dict[str, str]:
    return {"WWW-Authenticate": f'Basic realm="{REALM}"'}


def principal_from_request(request: HttpRequest) -> Principal:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        return ANONYMOUS
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        raise UnauthorizedError("unsupported authorization scheme", headers=basic_challenge())
    try:
        username, _, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise UnauthorizedError("malformed Basic credentials", headers=basic_challenge()) from None
    user = authenticate(request, username=username, password=password)
    if user is None:
        raise UnauthorizedError("invalid username or password", headers=basic_challenge())
    return Principal(user=user)
