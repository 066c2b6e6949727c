"""Query parameters of the REST API, read strictly: a value the OpenAPI schema does not allow is a
400 naming the parameter, not silently read as false or as the default.

Booleans are ``true`` or ``false`` (any case, so Python's ``True`` from ``requests`` works); Quay's
``truthy_bool`` also took ``1``, ``yes`` and anything else as true, which hides typos such as
``?public=ture``.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.http import QueryDict
from rest_framework.exceptions import ValidationError


def _single(params: Mapping[str, str], name: str) -> str | None:
    """The one value of ``name``; a repeated parameter is a list, which the schema does not allow."""
    if isinstance(params, QueryDict) and len(params.getlist(name)) > 1:
        raise ValidationError({name: ["Must be given at most once."]})
    return params.get(name)


def query_bool(params: Mapping[str, str], name: str, default: bool = False) -> bool:
    """The boolean query parameter ``name``; ``default`` when absent. Raises ValidationError (400)."""
    raw = _single(params, name)
    if raw is None:
        return default
    lowered = raw.lower()
    if lowered not in ("true", "false"):
        raise ValidationError({name: [f"Must be true or false, not {raw[:50]!r}."]})
    return lowered == "true"


def query_int(params: Mapping[str, str], name: str, default: int, *, low: int | None = None, high: int | None = None) -> int:
    """The integer query parameter ``name``; ``default`` when absent. Out-of-range values are a 400
    too (the schema documents the bounds). Raises ValidationError (400)."""
    raw = _single(params, name)
    if raw is None:
        return default
    if not raw.lstrip("-").isdigit() or not raw.isascii():
        raise ValidationError({name: [f"Must be an integer, not {raw[:50]!r}."]})
    number = int(raw)
    if (low is not None and number < low) or (high is not None and number > high):
        raise ValidationError({name: [f"Must be between {low} and {high}."]})
    return number
