"""The admin dashboard (``/admin/dashboard/``, linked from the console's index): registry size and
growth, pushes and pulls per day, storage by namespace, garbage collection, queues and periodic
tasks, the vulnerability database and the registry-wide read-only switch.

Superusers and global read-only superusers may open it; only superusers get the switch's form.
The charts are inline SVG drawn here (no JavaScript, readable without it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from accounts.admin import is_global_readonly
from accounts.services import principal_for_user
from common.units import size_text
from repositories.selectors_dashboard import Day, dashboard
from repositories.services.audit import RequestInfo
from repositories.services.console import registry_read_only_set


def may_view_dashboard(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_staff and (user.is_superuser or is_global_readonly(request)))


def may_flip_switch(request: HttpRequest) -> bool:
    return bool(request.user.is_active and request.user.is_superuser)


# -- charts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    key: str
    label: str
    color: str


def _nice_ceiling(value: float, *, binary: bool = False) -> float:
    """The smallest 1, 2, 4 (or 5) × 10^n at or above ``value`` (at least 1), so the four grid
    lines get round labels; with ``binary``, round in the KiB/MiB/GiB unit the value is shown in."""
    if value <= 1:
        return 1
    unit = 1
    if binary:
        while value / unit >= 1024:
            unit *= 1024
    scaled = value / unit
    magnitude = 10 ** (len(str(int(scaled))) - 1)
    for step in (1, 2, 4, 5, 10):
        if step * magnitude >= scaled:
            return step * magnitude * unit
    return 10 * magnitude * unit  # pragma: no cover


def bar_chart(
    days: list[Day], series: list[Series], *, title: str, fmt: Callable[[float], str] = lambda v: f"{v:g}", binary: bool = False,
) -> SafeString:
    """Grouped bars per day, with a y axis of four grid lines, a day label every five days, a
    legend and a ``<title>`` (the tooltip) on every bar. Escaped with format_html throughout."""
    width, height, left, right, top, bottom = 940, 230, 64, 10, 26, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / max(len(days), 1)
    bar_w = max(2.0, (slot - 4) / len(series))
    peak = _nice_ceiling(max((day.values.get(s.key, 0) for day in days for s in series), default=0), binary=binary)
    peak = peak if binary else max(peak, 4)  # counts: whole numbers on the four grid lines
    parts: list[SafeString] = []
    for step in range(5):
        value = peak * step / 4
        y = top + plot_h - plot_h * step / 4
        parts.append(format_html(
            '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#ccc" stroke-width="1"/>'
            '<text x="{}" y="{}" text-anchor="end" font-size="11" fill="currentColor">{}</text>',
            left, _n(y), width - right, _n(y), left - 6, _n(y + 4), fmt(value),
        ))
    for index, day in enumerate(days):
        x0 = left + index * slot + 2
        for offset, s in enumerate(series):
            value = day.values.get(s.key, 0)
            bar_h = plot_h * value / peak
            parts.append(format_html(
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {} {}</title></rect>',
                _n(x0 + offset * bar_w), _n(top + plot_h - bar_h), _n(bar_w), _n(bar_h), s.color, day.day.isoformat(), fmt(value), s.label,
            ))
        if index % 5 == 0 or index == len(days) - 1:
            parts.append(format_html(
                '<text x="{}" y="{}" text-anchor="middle" font-size="11" fill="currentColor">{}</text>',
                _n(x0 + slot / 2 - 2), height - bottom + 16, day.day.strftime("%b %d"),
            ))
    legend = format_html_join(
        "", '<rect x="{}" y="6" width="12" height="12" fill="{}"/><text x="{}" y="16" font-size="12" fill="currentColor">{}</text>',
        ((left + i * 110, s.color, left + i * 110 + 16, s.label) for i, s in enumerate(series)),
    )
    return format_html(
        '<svg class="moorage-chart" role="img" aria-label="{}" viewBox="0 0 {} {}" width="100%" preserveAspectRatio="xMidYMid meet" '
        'xmlns="http://www.w3.org/2000/svg"><title>{}</title>{}{}'
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="currentColor" stroke-width="1"/></svg>',
        title, width, height, title, legend, SafeString("".join(parts)), left, top + plot_h, width - right, top + plot_h,
    )


def _n(value: float) -> str:
    return f"{value:.1f}"


# -- the page -----------------------------------------------------------------------------------


class ReadOnlySwitchForm(forms.Form):
    read_only = forms.TypedChoiceField(choices=[("on", "on"), ("off", "off")], coerce=lambda value: value == "on")
    reason = forms.CharField(max_length=255, required=False)


def dashboard_view(request: HttpRequest) -> HttpResponse:
    if not may_view_dashboard(request):
        raise PermissionDenied
    if request.method == "POST":
        return _flip_switch(request)
    data = dashboard()
    growth = bar_chart(data.growth, [Series("bytes", "bytes added", "#417690")], title="Bytes added per day", fmt=lambda v: size_text(int(v)),
                       binary=True)
    activity = bar_chart(
        data.activity, [Series("pushes", "pushes", "#417690"), Series("pulls", "pulls", "#e09b3d")], title="Pushes and pulls per day",
        fmt=lambda v: f"{v:g}",
    )
    context = {
        **admin.site.each_context(request),
        "title": "Registry dashboard",
        "subtitle": None,
        "data": data,
        "growth_chart": growth,
        "activity_chart": activity,
        "growth_30d": sum(day.values["bytes"] for day in data.growth),
        "blobs_30d": sum(day.values["blobs"] for day in data.growth),
        "size_before": data.growth[0].values["size"] - data.growth[0].values["bytes"] if data.growth else data.totals.bytes,
        "pushes_30d": sum(day.values["pushes"] for day in data.activity),
        "pulls_30d": sum(day.values["pulls"] for day in data.activity),
        "queued_total": sum(depth or 0 for depth in data.queues.depths.values()),
        "can_flip_switch": may_flip_switch(request),
        "switch_form": ReadOnlySwitchForm(initial={"read_only": "off" if data.read_only.runtime else "on"}),
    }
    return TemplateResponse(request, "admin/dashboard.html", context)


def _flip_switch(request: HttpRequest) -> HttpResponse:
    if not may_flip_switch(request):
        raise PermissionDenied  # a global read-only superuser sees the switch, never flips it
    form = ReadOnlySwitchForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose on or off.")
        return HttpResponseRedirect(reverse("admin-dashboard"))
    read_only = form.cleaned_data["read_only"]
    registry_read_only_set(
        read_only=read_only, reason=form.cleaned_data["reason"], actor=principal_for_user(request.user, "session"),
        request=RequestInfo.of(request),
    )
    if read_only:
        messages.warning(request, "The registry is now read-only: every push, delete and tag change is refused until you switch it off.")
    else:
        messages.success(request, "The registry's runtime read-only switch is off.")
    return HttpResponseRedirect(reverse("admin-dashboard"))


#: ``registry_site/urls.py`` mounts it at ``admin/dashboard/`` (before ``admin.site.urls``); the
#: admin's own wrapper sends anonymous and non-staff visitors to the login page.
dashboard_page = admin.site.admin_view(dashboard_view)
