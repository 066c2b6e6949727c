"""The notification events: their payloads (Quay's event data), one-line summaries, levels,
sample data for the "test" action, event-config validation and filters.

Payloads have Quay's shape so receivers written for Quay work unchanged: every repository event
carries ``repository``, ``namespace``, ``name``, ``docker_url`` and ``homepage``; namespace
events carry ``namespace`` and ``homepage``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from common.errors import InvalidRequestError
from repositories.models.notifications import NAMESPACE_EVENTS, REPOSITORY_EVENTS, NotificationEvent

#: Quay's vulnerability priorities (``util/secscan``): a lower index is more severe
PRIORITY_INDEX = {"Defcon1": 0, "Critical": 1, "High": 2, "Medium": 3, "Low": 4, "Negligible": 5, "Unknown": 6}
_PRIORITY_BY_INDEX = {index: name for name, index in PRIORITY_INDEX.items()}


def _host() -> str:
    configured = getattr(settings, "MOORAGE_SERVER_HOSTNAME", "")
    if configured:
        return configured
    bind = settings.MOORAGE.get("bind", "127.0.0.1")
    if bind in ("0.0.0.0", "::", ""):
        bind = "127.0.0.1"
    return f"{bind}:{settings.MOORAGE.get('port', 5000)}"


def _scheme() -> str:
    return settings.MOORAGE["notifications"]["url_scheme"]


def repository_event_data(namespace: str, name: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Quay's ``build_repository_event_data``."""
    full_name = f"{namespace}/{name}"
    data: dict[str, Any] = {
        "repository": full_name,
        "namespace": namespace,
        "name": name,
        "docker_url": f"{_host()}/{full_name}",
        "homepage": f"{_scheme()}://{_host()}/repository/{full_name}",
    }
    data.update(extra or {})
    return data


def namespace_event_data(namespace: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Quay's ``build_namespace_event_data``."""
    data: dict[str, Any] = {"namespace": namespace, "homepage": f"{_scheme()}://{_host()}/organization/{namespace}"}
    data.update(extra or {})
    return data


def complete_payload(event: str, payload: dict[str, Any], *, namespace: str, repository_name: str | None) -> dict[str, Any]:
    """``payload`` with the base fields of its kind added where the emitter left them out."""
    base = repository_event_data(namespace, repository_name) if repository_name is not None else namespace_event_data(namespace)
    return {**base, **payload}


# --- validation -------------------------------------------------------------------------------


def priority_index(level: Any) -> int | None:
    """A vulnerability level as Quay's index: an index (``3``, ``"3"``) or a name (``"High"``)."""
    if isinstance(level, bool):
        return None
    if isinstance(level, int):
        return level if level in _PRIORITY_BY_INDEX else None
    if isinstance(level, str):
        text = level.strip()
        if text.isdigit():
            return priority_index(int(text))
        for name, index in PRIORITY_INDEX.items():
            if name.lower() == text.lower():
                return index
    return None


def validate_event(event: str, event_config: Any, *, scope: str) -> dict[str, Any]:
    """The normalised ``event_config`` for ``event``; ``scope`` is ``repository`` or ``namespace``.

    Raises:
        InvalidRequestError: unknown event, an event of the other scope, or a bad event config.
    """
    allowed = REPOSITORY_EVENTS if scope == "repository" else NAMESPACE_EVENTS
    if event not in NotificationEvent.values:
        raise InvalidRequestError(f"Unknown event '{event}'. Must be one of: {', '.join(sorted(allowed))}", detail={"event": event})
    if event not in allowed:
        raise InvalidRequestError(
            f"Invalid event '{event}' for a {scope} notification. Must be one of: {', '.join(sorted(allowed))}", detail={"event": event}
        )
    if event_config is None:
        event_config = {}
    if not isinstance(event_config, dict):
        raise InvalidRequestError("eventConfig must be an object", detail={"eventConfig": event_config})
    config = dict(event_config)
    if event == NotificationEvent.REPO_IMAGE_EXPIRY:
        days = config.get("days")
        if isinstance(days, str) and days.strip().isdigit():
            days = int(days)
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 3650:
            raise InvalidRequestError("repo_image_expiry needs eventConfig.days, a number of days from 1 to 3650", detail={"days": config.get("days")})
        config["days"] = days
    if event == NotificationEvent.VULNERABILITY_FOUND and config.get("level") not in (None, ""):
        if priority_index(config["level"]) is None:
            raise InvalidRequestError(
                f"unknown vulnerability level; use one of {', '.join(PRIORITY_INDEX)} or its index 0-6", detail={"level": config["level"]}
            )
    return config


# --- filters, summaries, samples --------------------------------------------------------------


def _event_priority(payload: dict[str, Any]) -> int | None:
    vulnerability = payload.get("vulnerability")
    if isinstance(vulnerability, dict):
        return priority_index(vulnerability.get("priority", "Unknown"))
    several = payload.get("vulnerabilities")
    if isinstance(several, list) and several:
        indexes = [priority_index(v.get("priority", "Unknown")) for v in several if isinstance(v, dict)]
        known = [index for index in indexes if index is not None]
        return min(known) if known else None
    return None


def should_perform(event: str, event_config: dict[str, Any], payload: dict[str, Any]) -> bool:
    """Whether a notification with ``event_config`` fires for this ``payload`` (Quay's filter:
    ``vulnerability_found`` only at or above the configured level)."""
    if event != NotificationEvent.VULNERABILITY_FOUND:
        return True
    wanted = priority_index(event_config.get("level")) if event_config.get("level") not in (None, "") else None
    if wanted is None or payload.get("vulnerable_index_report_created"):
        return True
    actual = _event_priority(payload)
    return actual is not None and actual <= wanted


def event_level(event: str, payload: dict[str, Any]) -> str:
    """Quay's level: ``info``, ``warning``, ``error``, ``primary`` or ``success``."""
    if event == NotificationEvent.VULNERABILITY_FOUND:
        priority = _event_priority(payload)
        if priority is not None and priority <= 1:
            return "error"
        return "warning" if priority is not None and priority <= 3 else "info"
    return {
        NotificationEvent.REPO_PUSH: "primary",
        NotificationEvent.REPO_MIRROR_SYNC_STARTED: "info",
        NotificationEvent.REPO_MIRROR_SYNC_SUCCESS: "success",
        NotificationEvent.REPO_MIRROR_SYNC_FAILED: "error",
        NotificationEvent.QUOTA_WARNING: "warning",
        NotificationEvent.QUOTA_ERROR: "error",
        NotificationEvent.BUILD_SUCCESS: "success",
        NotificationEvent.BUILD_FAILURE: "error",
    }.get(event, "info")  # type: ignore[call-overload]


def event_summary(event: str, payload: dict[str, Any]) -> str:
    """One line saying what happened (the e-mail subject, the Slack text)."""
    repository = payload.get("repository", "")
    namespace = payload.get("namespace", "")
    if event == NotificationEvent.REPO_PUSH:
        return f"Repository {repository} updated"
    if event == NotificationEvent.REPO_IMAGE_EXPIRY:
        return f"Repository {repository} image(s) expiring"
    if event == NotificationEvent.VULNERABILITY_FOUND:
        priority = _PRIORITY_BY_INDEX.get(_event_priority(payload) if _event_priority(payload) is not None else 6, "Unknown")
        return f"{priority} vulnerability detected in repository {repository} in {len(payload.get('tags') or [])} tags"
    if event == NotificationEvent.REPO_MIRROR_SYNC_STARTED:
        return f"Repository Mirror started for {repository}"
    if event == NotificationEvent.REPO_MIRROR_SYNC_SUCCESS:
        return f"Repository Mirror success for {repository}"
    if event == NotificationEvent.REPO_MIRROR_SYNC_FAILED:
        return f"Repository Mirror failed for {repository}"
    if event == NotificationEvent.QUOTA_WARNING:
        return f"Namespace {namespace} storage usage has reached {payload.get('threshold_percent', '?')}% of its quota limit"
    if event == NotificationEvent.QUOTA_ERROR:
        return f"Namespace {namespace} storage usage has exceeded its quota limit ({payload.get('usage_percent', '?')}%)"
    if event.startswith("build_"):
        verb = {"build_queued": "queued", "build_start": "started", "build_success": "completed", "build_failure": "failed", "build_cancelled": "cancelled"}.get(event, event)
        return f"Build {payload.get('build_id', '')} {verb} for repository {repository}"
    return f"{event} in {repository or namespace}"


def event_details(event: str, payload: dict[str, Any]) -> list[str]:
    """A few human lines under the summary (e-mail body, Slack attachment)."""
    lines: list[str] = []
    if event == NotificationEvent.REPO_PUSH and payload.get("updated_tags"):
        lines.append("Tags pushed: " + ", ".join(map(str, payload["updated_tags"])))
    if event == NotificationEvent.REPO_IMAGE_EXPIRY and payload.get("tags"):
        lines.append(f"Tags expiring within {payload.get('expiring_in', '?')}: " + ", ".join(map(str, payload["tags"])))
    if event == NotificationEvent.VULNERABILITY_FOUND:
        vulnerability = payload.get("vulnerability") or {}
        if isinstance(vulnerability, dict) and vulnerability.get("id"):
            lines.append(f"{vulnerability.get('id')} ({vulnerability.get('priority', 'Unknown')}): {vulnerability.get('description', '')}".strip())
        if payload.get("tags"):
            lines.append("Tags: " + ", ".join(map(str, payload["tags"])))
    if event.startswith("repo_mirror_sync") and payload.get("message"):
        lines.append(str(payload["message"]))
    if event in NAMESPACE_EVENTS and "usage_bytes" in payload:
        lines.append(
            f"Usage: {payload.get('usage_bytes_formatted', payload.get('usage_bytes'))} of "
            f"{payload.get('limit_bytes_formatted', payload.get('limit_bytes'))} ({payload.get('usage_percent', '?')}%)"
        )
    if payload.get("docker_url"):
        lines.append(f"Pull: {payload['docker_url']}")
    return lines


def sample_payload(event: str, *, namespace: str, repository_name: str | None, event_config: dict[str, Any]) -> dict[str, Any]:
    """Quay's ``get_sample_data``: what the "test" action sends."""
    if event in NAMESPACE_EVENTS:
        if event == NotificationEvent.QUOTA_WARNING:
            extra = {"threshold_percent": 80, "usage_bytes": 858993459, "limit_bytes": 1073741824, "usage_percent": 80,
                     "usage_bytes_formatted": "819.20 MB", "limit_bytes_formatted": "1.00 GB"}
        else:
            extra = {"threshold_percent": 100, "usage_bytes": 1127428915, "limit_bytes": 1073741824, "usage_percent": 105,
                     "usage_bytes_formatted": "1.05 GB", "limit_bytes_formatted": "1.00 GB"}
        return namespace_event_data(namespace, extra)
    name = repository_name or "repository"
    if event == NotificationEvent.REPO_PUSH:
        return repository_event_data(namespace, name, {"updated_tags": ["latest", "foo"], "pruned_image_count": 3})
    if event == NotificationEvent.REPO_IMAGE_EXPIRY:
        return repository_event_data(namespace, name, {"tags": ["latest", "v1"], "expiring_in": f"{event_config.get('days')} days"})
    if event == NotificationEvent.VULNERABILITY_FOUND:
        level = priority_index(event_config.get("level")) if event_config.get("level") not in (None, "") else 1
        return repository_event_data(namespace, name, {
            "tags": ["latest", "prod", "foo", "bar", "baz"],
            "image": "some-image-id",
            "vulnerability": {
                "id": "CVE-FAKE-CVE",
                "description": "A futurist vulnerability",
                "link": "https://security-tracker.debian.org/tracker/CVE-FAKE-CVE",
                "priority": _PRIORITY_BY_INDEX.get(level if level is not None else 1, "Critical"),
            },
        })
    return repository_event_data(namespace, name, {"message": "TEST NOTIFICATION"})
