"""DRF's serializer namespace with strict scalar fields, for every serializer of the REST API.

DRF coerces: ``0`` or ``"yes"`` is a boolean, ``0`` a string, ``"5"`` an integer, an integer a UUID.
The OpenAPI schema documents JSON types, and a client that sends the wrong one has a bug it should
hear about, so the fields here accept only the JSON type the schema shows and answer anything else
with a 400 naming the field. API modules import ``from common import serializers`` instead of DRF's,
so a new field cannot forget to be strict.

A serializer reading query parameters (``Serializer(data=request.query_params)``) gets strings only:
there a boolean is ``true`` or ``false`` (any case) and an integer a string of digits.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import models
from django.http import QueryDict
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers as drf
from rest_framework.serializers import (
    DateTimeField,
    DictField,
    HiddenField,
    JSONField,
    ListField,
    ListSerializer,
    ReadOnlyField,
    Serializer,
    SerializerMethodField,
    ValidationError,
)

__all__ = [
    "BooleanField",
    "CharField",
    "ChoiceField",
    "DateTimeField",
    "DictField",
    "EmailField",
    "FloatField",
    "HiddenField",
    "IPAddressField",
    "IntegerField",
    "JSONField",
    "ListField",
    "ListSerializer",
    "ModelSerializer",
    "ReadOnlyField",
    "Serializer",
    "SerializerMethodField",
    "URLField",
    "UUIDField",
    "ValidationError",
]


def _in_query_string(field: drf.Field) -> bool:
    """Whether the field reads a query string, where every value is a string."""
    return isinstance(getattr(field.root, "initial_data", None), QueryDict)


class _SingleQueryValue:
    """In a query string, a repeated parameter is a list, which a scalar field does not accept (DRF
    would take the last value), and an empty one is not a number or a boolean (DRF would read it as
    "not given")."""

    def get_value(self, dictionary: Any) -> Any:
        if isinstance(dictionary, QueryDict):
            values = dictionary.getlist(self.field_name)  # type: ignore[attr-defined]
            if len(values) > 1:
                return values
            if values == [""] and not isinstance(self, drf.CharField):
                return ""
        return super().get_value(dictionary)  # type: ignore[misc]


class BooleanField(_SingleQueryValue, drf.BooleanField):
    """``true`` or ``false``; not ``0``, ``1``, ``"true"`` or ``"yes"``."""

    default_error_messages = {"invalid": "Must be a boolean (true or false)."}

    def to_internal_value(self, data: Any) -> bool:
        if isinstance(data, str) and data.lower() in ("true", "false") and _in_query_string(self):
            return data.lower() == "true"
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class _StrictString(_SingleQueryValue):
    """Mixin for CharField and its subclasses: a JSON string, never a number turned into one."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid")  # type: ignore[attr-defined]
        return super().to_internal_value(data)  # type: ignore[misc]


class CharField(_StrictString, drf.CharField):
    default_error_messages = {"invalid": "Must be a string."}


class EmailField(_StrictString, drf.EmailField):
    pass


class URLField(_StrictString, drf.URLField):
    pass


class IPAddressField(_StrictString, drf.IPAddressField):
    pass


class _BlankOrFormatSchema(OpenApiSerializerFieldExtension):
    """An e-mail or URL field with ``allow_blank`` takes ``""`` (Quay's "none"), which ``format:
    email`` alone would call invalid: the schema says "a valid address or empty"."""

    target_class = "common.serializers._StrictString"
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if not (self.target.allow_blank and schema.get("format") in ("email", "uri")):
            return schema
        # no top-level type: drf-spectacular would add the format back from the field's validator
        address = {"type": schema.pop("type"), "format": schema.pop("format")}
        if self.target.max_length is not None:
            address["maxLength"] = self.target.max_length
        return {**schema, "anyOf": [address, {"type": "string", "maxLength": 0}]}


class IntegerField(_SingleQueryValue, drf.IntegerField):
    """A JSON integer; not ``"5"``, ``5.5`` or ``true``."""

    default_error_messages = {"invalid": "Must be an integer."}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, str) and data.lstrip("-").isdigit() and data.isascii() and _in_query_string(self):
            return super().to_internal_value(data)
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class FloatField(drf.FloatField):
    """A JSON number; not ``"1.5"`` or ``true``."""

    default_error_messages = {"invalid": "Must be a number."}

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            self.fail("invalid")
        return super().to_internal_value(data)


class UUIDField(drf.UUIDField):
    """A UUID string; DRF would also take an integer."""

    def to_internal_value(self, data: Any) -> uuid.UUID:
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


class ChoiceField(_SingleQueryValue, drf.ChoiceField):
    """One of the choices with its own JSON type: DRF matches ``str(data)``, so ``1`` would pick the
    choice ``"1"``, ``"1"`` the choice ``1`` and ``true`` the choice ``"True"``."""

    def to_internal_value(self, data: Any) -> Any:
        if data == "" and self.allow_blank:
            return ""
        if isinstance(data, (list, dict)) or not any(_json_kind(data) == _json_kind(choice) and data == choice for choice in self.choices):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


def _json_kind(value: Any) -> type:
    """The JSON type a Python value is sent as (an enum member of a str enum is a string)."""
    for kind in (bool, str, int, float):
        if isinstance(value, kind):
            return kind
    return type(value)


class ModelSerializer(drf.ModelSerializer):
    """ModelSerializer whose generated fields are the strict ones above."""

    serializer_field_mapping = {
        **drf.ModelSerializer.serializer_field_mapping,
        models.BooleanField: BooleanField,
        models.CharField: CharField,
        models.TextField: CharField,
        models.EmailField: EmailField,
        models.URLField: URLField,
        models.GenericIPAddressField: IPAddressField,
        models.IntegerField: IntegerField,
        models.BigIntegerField: IntegerField,
        models.SmallIntegerField: IntegerField,
        models.PositiveIntegerField: IntegerField,
        models.PositiveSmallIntegerField: IntegerField,
        models.PositiveBigIntegerField: IntegerField,
        models.FloatField: FloatField,
        models.UUIDField: UUIDField,
    }
    serializer_choice_field = ChoiceField
