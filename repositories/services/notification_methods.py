"""The notification methods: how one delivery reaches its receiver.

``webhook``: a JSON POST of the event data (or of the notification's body template), signed
with HMAC-SHA256 when the notification has a secret. ``slack``: a Slack-compatible incoming
webhook message. ``email``: one message through Django's e-mail backend (the ``email`` config
section). ``quay_notification``: in-app notifications for a user, a team's members or an
organization's administrators. Webhook and Slack URLs pass the outbound (SSRF) policy when the
notification is created and again before every delivery.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.utils.html import escape

from accounts.models import Namespace, User
from common.errors import InvalidRequestError
from common.ssrf import OutboundURLError, check_url, outbound_request
from organizations.models import Team, TeamMember
from repositories.models.notifications import NotificationMethod, UserNotification
from repositories.services.notification_events import event_details, event_level, event_summary

SIGNATURE_HEADER = "X-Moorage-Signature-256"
EVENT_HEADER = "X-Moorage-Event"
DELIVERY_HEADER = "X-Moorage-Delivery"
USER_AGENT = "Moorage-Notifications/1"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.\-]+)\}")
#: what a delivery log keeps of a receiver's error body
_BODY_EXCERPT = 300


@dataclass(frozen=True)
class AttemptResult:
    succeeded: bool
    http_status: int | None = None
    error: str = ""
    duration_ms: int = 0


# --- validation ---------------------------------------------------------------------------------


def validate_method_config(method: str, config: Any, *, namespace: Namespace) -> tuple[dict[str, Any], str]:
    """The stored config and the webhook secret (taken out of the config) for ``method``.

    Raises:
        InvalidRequestError: unknown method, missing or bad settings, a URL the outbound policy
            refuses, an unknown in-app target.
    """
    if method not in NotificationMethod.values:
        raise InvalidRequestError(
            f"Unknown notification method '{method}'. Must be one of: {', '.join(NotificationMethod.values)}", detail={"method": method}
        )
    if not isinstance(config, dict):
        raise InvalidRequestError("config must be an object", detail={"config": config})
    config = dict(config)
    secret = ""
    if method in (NotificationMethod.WEBHOOK, NotificationMethod.SLACK):
        url = config.get("url")
        if not isinstance(url, str) or not url.strip():
            raise InvalidRequestError("Missing webhook URL" if method == NotificationMethod.WEBHOOK else "Missing Slack Callback URL")
        check_url(url)  # OutboundURLError is an InvalidRequestError: 400 with the reason
        config["url"] = url.strip()
    if method == NotificationMethod.WEBHOOK:
        raw_secret = config.pop("secret", "")
        if raw_secret not in (None, "") and not isinstance(raw_secret, str):
            raise InvalidRequestError("config.secret must be a string")
        secret = (raw_secret or "").strip()
        if len(secret) > 255:
            raise InvalidRequestError("config.secret is longer than 255 characters")
        template = config.get("template")
        if template not in (None, ""):
            if not isinstance(template, str):
                raise InvalidRequestError("config.template must be a string holding a JSON document")
            try:
                json.loads(template)
            except ValueError as exc:
                raise InvalidRequestError(f"config.template is not valid JSON: {exc}") from None
    if method == NotificationMethod.EMAIL:
        email = config.get("email")
        try:
            validate_email(email)
        except (ValidationError, TypeError):
            raise InvalidRequestError("Missing or invalid e-mail address", detail={"email": email}) from None
    if method == NotificationMethod.QUAY_NOTIFICATION:
        target = config.get("target")
        if not isinstance(target, dict) or not target.get("kind") or not target.get("name"):
            raise InvalidRequestError("Missing target: config.target needs kind (user, team or org) and name")
        _target_users_or_namespace(target, namespace)
    return config, secret


def _target_users_or_namespace(target: dict[str, Any], namespace: Namespace) -> list[User] | Namespace:
    """The users an in-app notification goes to, or the organization namespace whose admins see it.

    Raises:
        InvalidRequestError: an unknown user or team, or another organization.
    """
    kind, name = str(target.get("kind")), str(target.get("name"))
    if kind == "user":
        user = User.objects.filter(username=name, is_active=True).first()
        if user is None:
            raise InvalidRequestError(f"Unknown user {name}", detail={"target": target})
        return [user]
    if kind == "team":
        team = Team.objects.filter(organization__namespace=namespace, name=name).first()
        if team is None:
            raise InvalidRequestError(f"Unknown team {name}", detail={"target": target})
        ids = TeamMember.objects.filter(team=team, user__isnull=False).values_list("user_id", flat=True)
        return list(User.objects.filter(pk__in=ids, is_active=True).order_by("pk"))
    if kind == "org":
        if name != namespace.name or namespace.kind != Namespace.Kind.ORGANIZATION:
            raise InvalidRequestError("Organization name must match the notification's namespace", detail={"target": target})
        return namespace
    raise InvalidRequestError(f"Unknown target kind {kind}; use user, team or org", detail={"target": target})


# --- rendering ----------------------------------------------------------------------------------


def _lookup(payload: Any, path: str) -> Any:
    value = payload
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _substitute(node: Any, payload: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        return {key: _substitute(value, payload) for key, value in node.items()}
    if isinstance(node, list):
        return [_substitute(value, payload) for value in node]
    if isinstance(node, str):
        whole = _PLACEHOLDER.fullmatch(node)
        if whole:
            return _lookup(payload, whole.group(1))  # the JSON value itself: a list stays a list

        def text(match: re.Match[str]) -> str:
            value = _lookup(payload, match.group(1))
            if value is None:
                return ""
            if isinstance(value, list):
                return ", ".join(map(str, value))
            return value if isinstance(value, str) else json.dumps(value)

        return _PLACEHOLDER.sub(text, node)
    return node


def render_template(template: str, payload: dict[str, Any]) -> Any:
    """The body template (a JSON document) with each ``${field}`` replaced: a string that is only a
    placeholder becomes the field's JSON value, a placeholder inside text its text; dotted paths
    reach into objects and lists (``${vulnerability.priority}``, ``${updated_tags.0}``)."""
    return _substitute(json.loads(template), payload)


def webhook_body(config: dict[str, Any], payload: dict[str, Any]) -> bytes:
    template = config.get("template")
    document = render_template(template, payload) if template else payload
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: str, body: bytes) -> str:
    """The value of the signature header: ``sha256=`` and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


_SLACK_COLORS = {"info": "#ffffff", "warning": "warning", "error": "danger", "success": "good", "primary": "good"}


def slack_body(event: str, payload: dict[str, Any]) -> bytes:
    """Quay's Slack message: a summary and one attachment coloured by the event's level."""
    summary = event_summary(event, payload)
    link = f"<{payload['homepage']}|{payload.get('repository') or payload.get('namespace')}>" if payload.get("homepage") else ""
    text = "\n".join([*event_details(event, payload), link]).strip()
    message = {
        "text": summary,
        "username": "moorage",
        "attachments": [{"fallback": summary, "text": text, "color": _SLACK_COLORS.get(event_level(event, payload), "#ffffff"), "mrkdwn_in": ["text"]}],
    }
    return json.dumps(message).encode()


# --- performing ---------------------------------------------------------------------------------


def _post(url: str, body: bytes, headers: dict[str, str]) -> AttemptResult:
    started = time.monotonic()
    timeout = float(settings.MOORAGE["notifications"]["timeout_s"])
    try:
        response = outbound_request("POST", url, content=body, headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers}, timeout=timeout)
    except OutboundURLError as exc:
        return AttemptResult(False, error=f"refused by the outbound policy: {exc.message}", duration_ms=_ms(started))
    except httpx.HTTPError as exc:
        return AttemptResult(False, error=f"{type(exc).__name__}: {exc}"[:1000] or type(exc).__name__, duration_ms=_ms(started))
    if 200 <= response.status_code < 300:
        return AttemptResult(True, http_status=response.status_code, duration_ms=_ms(started))
    excerpt = response.text[:_BODY_EXCERPT].strip()
    return AttemptResult(
        False, http_status=response.status_code, error=f"{response.status_code} response from the receiver" + (f": {excerpt}" if excerpt else ""),
        duration_ms=_ms(started),
    )


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def perform(*, method: str, config: dict[str, Any], secret: str, namespace: Namespace, event: str, payload: dict[str, Any], delivery_uuid: str) -> AttemptResult:
    """Deliver ``payload`` once through ``method``; never raises for a receiver's failure."""
    if method == NotificationMethod.WEBHOOK:
        body = webhook_body(config, payload)
        headers = {EVENT_HEADER: event, DELIVERY_HEADER: delivery_uuid}
        if secret:
            headers[SIGNATURE_HEADER] = signature(secret, body)
        return _post(config.get("url", ""), body, headers)
    if method == NotificationMethod.SLACK:
        return _post(config.get("url", ""), slack_body(event, payload), {})
    if method == NotificationMethod.EMAIL:
        return _send_email(config.get("email", ""), event, payload)
    if method == NotificationMethod.QUAY_NOTIFICATION:
        return _notify_in_app(config.get("target") or {}, namespace, event, payload)
    return AttemptResult(False, error=f"unknown method {method}")


def _send_email(address: str, event: str, payload: dict[str, Any]) -> AttemptResult:
    started = time.monotonic()
    if settings.EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend" and not settings.EMAIL_HOST:
        return AttemptResult(False, error="no SMTP server configured (email.host)")
    summary = event_summary(event, payload)
    details = event_details(event, payload)
    text = "\n".join([summary, "", *details, "", "Event data:", json.dumps(payload, indent=2, sort_keys=True)])
    html = "<p><b>{}</b></p><ul>{}</ul>{}".format(
        escape(summary), "".join(f"<li>{escape(line)}</li>" for line in details),
        f'<p><a href="{escape(payload["homepage"])}">{escape(payload.get("repository") or payload.get("namespace") or "")}</a></p>'
        if payload.get("homepage") else "",
    )
    message = EmailMultiAlternatives(subject=f"[Moorage] {summary}", body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=[address])
    message.attach_alternative(html, "text/html")
    try:
        message.send(fail_silently=False)
    except Exception as exc:  # noqa: BLE001 - SMTP, socket and TLS errors all fail the attempt
        return AttemptResult(False, error=f"{type(exc).__name__}: {exc}"[:1000], duration_ms=_ms(started))
    return AttemptResult(True, duration_ms=_ms(started))


def _notify_in_app(target: dict[str, Any], namespace: Namespace, event: str, payload: dict[str, Any]) -> AttemptResult:
    started = time.monotonic()
    try:
        found = _target_users_or_namespace(target, namespace)
    except InvalidRequestError as exc:
        return AttemptResult(False, error=exc.message)
    if isinstance(found, Namespace):
        UserNotification.objects.create(kind=event, target_namespace=found, metadata=payload)
    else:
        UserNotification.objects.bulk_create([UserNotification(kind=event, target_user=user, metadata=payload) for user in found])
    return AttemptResult(True, duration_ms=_ms(started))
