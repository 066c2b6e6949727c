"""Forms of the web UI: sign-in (with the registry's failed-login throttling) and app tokens."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils import timezone

from accounts.throttle import login_failed, login_retry_after, login_succeeded

EXPIRY_CHOICES = [("", "Never"), ("30", "In 30 days"), ("90", "In 90 days"), ("365", "In a year")]


def _client_address(request) -> str | None:
    return request.META.get("REMOTE_ADDR") if request is not None else None


class SignInForm(AuthenticationForm):
    """Django's sign-in form, counting failures per user name and address like ``docker login``."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "throttled": "Too many failed sign-ins. Try again in %(seconds)s seconds.",
    }

    def clean(self):
        username = (self.cleaned_data.get("username") or "")[:300]
        address = _client_address(self.request)
        retry_after = login_retry_after(username=username, ip=address)
        if retry_after is not None:
            raise forms.ValidationError(self.error_messages["throttled"], code="throttled", params={"seconds": retry_after})
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            login_failed(username=username, ip=address)
            raise
        login_succeeded(username=username, ip=address)
        return cleaned


class AppTokenCreateForm(forms.Form):
    title = forms.CharField(max_length=255, label="Title", help_text="What the token is for, e.g. “CI on laptop”.")
    expires_in_days = forms.ChoiceField(choices=EXPIRY_CHOICES, required=False, label="Expires")

    def expires_at(self) -> datetime | None:
        days = self.cleaned_data.get("expires_in_days")
        return timezone.now() + timedelta(days=int(days)) if days else None
