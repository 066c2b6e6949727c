"""Template filters of the admin console: sizes in binary units (``1.5 KiB``, as the rest of the
console and ``docker`` print them; Django's ``filesizeformat`` says "KB" for 1024 bytes) and
thousands separators."""

from __future__ import annotations

from django import template

from common.units import size_text

register = template.Library()


@register.filter
def binary_size(value: int | None) -> str:
    return "—" if value is None else size_text(int(value))


@register.filter
def thousands(value: int | None) -> str:
    return "—" if value is None else f"{int(value):,}"
