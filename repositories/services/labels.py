"""Manifest labels: added through the API (mutable), or read from the image config at push time
(immutable), where ``quay.expires-after`` and ``quay.immutable`` act on the pushed tags."""

from __future__ import annotations

import json
import logging
import re
import uuid
from datetime import datetime, timedelta
from typing import Iterable

from django.db import transaction
from django.utils import timezone

from accounts.principals import Principal
from common.errors import InvalidRequestError, NotFoundError
from repositories.lookup_invalidation import repository_lookups_invalidate
from repositories.media_types import ParsedManifest
from repositories.models import Blob, Label, Manifest, Tag
from repositories.selectors import live_tags
from repositories.selectors_tags import config_document, config_labels, manifest_label_find
from repositories.services.audit import RequestInfo, audit_log

logger = logging.getLogger(__name__)

#: Quay's label key grammar (``util/validation.py``), enforced on labels added through the API.
LABEL_KEY_RE = re.compile(r"^[a-z0-9](([a-z0-9]|[-.](?![.-]))*[a-z0-9])?\Z")
RESERVED_PREFIXES = ("com.docker.", "io.docker.", "org.dockerproject.")
LABEL_MEDIA_TYPES = ("text/plain", "application/json")
MAX_KEY_LENGTH = 255
MAX_VALUE_LENGTH = 64 * 1024
#: A config with more labels than this is unusual; the rest are ignored rather than stored.
MAX_CONFIG_LABELS = 256

EXPIRES_AFTER_KEYS = ("quay.expires-after", "moorage.expires-after")
IMMUTABLE_KEYS = ("quay.immutable", "moorage.immutable")
_DURATION_RE = re.compile(r"^\s*(\d{1,9})\s*([smhdw])\s*\Z")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_json(value: str) -> bool:
    stripped = value.strip()
    if not stripped.startswith(("{", "[")):
        return False
    try:
        json.loads(stripped)
    except (ValueError, RecursionError):
        return False
    return True


def parse_duration(value: str) -> timedelta | None:
    """``2w``, ``36h``, ``90m`` ... as a timedelta (None when it is not one)."""
    match = _DURATION_RE.match(value)
    if not match:
        return None
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def label_add(
    *, manifest: Manifest, key: str, value: str, media_type: str | None = None,
    actor: Principal | None = None, request: RequestInfo | None = None,
) -> Label:
    """Add a mutable (``api``) label to ``manifest``; logs ``manifest_label_add``.

    ``media_type`` None means ``application/json`` for a JSON object or array, else
    ``text/plain``. Raises INVALID_REQUEST for a key outside Quay's grammar, a reserved prefix,
    an unknown media type, or a value that is not JSON under ``application/json``.
    """
    if not key or len(key) > MAX_KEY_LENGTH or not LABEL_KEY_RE.match(key):
        raise InvalidRequestError(
            f"Label is of an invalid format or missing please use {LABEL_KEY_RE.pattern} format for labels", detail={"key": key[:200]}
        )
    if key.startswith(RESERVED_PREFIXES):
        raise InvalidRequestError("Label has a reserved prefix", detail={"key": key, "reserved_prefixes": list(RESERVED_PREFIXES)})
    if len(value) > MAX_VALUE_LENGTH or not _storable(value):
        raise InvalidRequestError(f"label values are text of at most {MAX_VALUE_LENGTH} characters without NUL", detail={"key": key})
    if media_type is None:
        media_type = "application/json" if _is_json(value) else "text/plain"
    if media_type not in LABEL_MEDIA_TYPES:
        raise InvalidRequestError(
            "Media type is invalid please use a valid media type: text/plain, application/json", detail={"media_type": media_type[:200]}
        )
    if media_type == "application/json":
        try:
            json.loads(value)
        except (ValueError, RecursionError):
            raise InvalidRequestError("the value is not valid JSON", detail={"key": key}) from None
    with transaction.atomic():
        label = Label.objects.create(
            manifest=manifest, uuid=uuid.uuid4(), key=key, value=value, media_type=media_type, source=Label.Source.API
        )
        if key in EXPIRES_AFTER_KEYS or key in IMMUTABLE_KEYS:
            # As in Quay, these labels act when added through the API too: on the live tags of the manifest.
            _apply_to_tags(manifest, {key: value}, list(Tag.objects.filter(live_tags(), manifest=manifest)), timezone.now())
        audit_log(
            kind="manifest_label_add", principal=actor, repository=manifest.repository, request=request,
            metadata={"id": str(label.uuid), "key": key, "value": value[:1024], "manifest_digest": manifest.digest, "media_type": media_type},
        )
    return label


def label_delete(*, manifest: Manifest, label_id: str, actor: Principal | None = None, request: RequestInfo | None = None) -> Label:
    """Delete an ``api`` label of ``manifest``; logs ``manifest_label_delete``.

    Raises NOT_FOUND and INVALID_REQUEST for a label from the image config (immutable), as Quay
    answers 400 for that.
    """
    label = manifest_label_find(manifest=manifest, label_id=label_id)
    if label is None:
        raise NotFoundError("label not found", detail={"labelid": label_id[:100]})
    if label.is_immutable:
        raise InvalidRequestError("Cannot delete immutable label: it comes from the image config", detail={"labelid": label_id, "key": label.key})
    with transaction.atomic():
        Label.objects.filter(pk=label.pk).delete()
        audit_log(
            kind="manifest_label_delete", principal=actor, repository=manifest.repository, request=request,
            metadata={"id": label_id, "key": label.key, "value": label.value[:1024], "manifest_digest": manifest.digest},
        )
    return label


# -- labels from the image config, at push time ----------------------------------------------
#: Only image configs carry ``config.Labels``; artifact configs (Helm charts, signatures...) are not read.
IMAGE_CONFIG_TYPES = frozenset({"application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"})


def _labels_of_config(parsed: ParsedManifest, blobs: Iterable[Blob]) -> dict[str, str]:
    if parsed.config is None or parsed.config.media_type not in IMAGE_CONFIG_TYPES:
        return {}
    blob = next((b for b in blobs if b.digest == parsed.config.digest), None)
    if blob is None:
        return {}
    try:
        return config_labels(config_document(blob=blob))
    except Exception:  # noqa: BLE001 - labels are extra: a bad config must never fail the push
        logger.warning("could not read the labels of config %s", blob.digest, exc_info=True)
        return {}


def _common_labels(children: list[Manifest]) -> dict[str, str]:
    """Labels (from the config) every child carries with the same value."""
    if not children:
        return {}
    per_child: dict[int, dict[str, str]] = {child.id: {} for child in children}
    for manifest_id, key, value in Label.objects.filter(manifest__in=children, source=Label.Source.MANIFEST).values_list(
        "manifest_id", "key", "value"
    ):
        per_child[manifest_id][key] = value
    first, *rest = per_child.values()
    return {key: value for key, value in first.items() if all(other.get(key) == value for other in rest)}


def manifest_labels_on_push(
    *, manifest: Manifest, parsed: ParsedManifest, blobs: Iterable[Blob], children: list[Manifest], tags: list[Tag], now: datetime
) -> None:
    """Give a pushed manifest its config labels (once), and let them act on the tags this push
    (re)started: ``quay.expires-after=<n><s|m|h|d|w>`` sets their expiry, ``quay.immutable=true``
    makes them immutable (then no expiry: an immutable tag never expires). For an index only
    labels common to every child count. Runs inside the push's transaction; never raises for bad
    config content.
    """
    present = list(Label.objects.filter(manifest=manifest).values_list("key", "value", "source"))
    if present:  # pushed before: its config labels are stored already
        labels = {key: value for key, value, source in present if source == Label.Source.MANIFEST}
    else:
        labels = _common_labels(children) if parsed.is_index else _labels_of_config(parsed, blobs)
        stored = [
            Label(
                manifest=manifest, uuid=uuid.uuid4(), key=key, value=value, source=Label.Source.MANIFEST,
                media_type="application/json" if _is_json(value) else "text/plain",
            )
            for key, value in list(labels.items())[:MAX_CONFIG_LABELS]
            if key and len(key) <= MAX_KEY_LENGTH and _storable(key) and _storable(value)
        ]
        Label.objects.bulk_create(stored)
        labels = {label.key: label.value for label in stored}
    _apply_to_tags(manifest, labels, [tag for tag in tags if tag.lifetime_start >= now and not tag.hidden], now)


def _apply_to_tags(manifest: Manifest, labels: dict[str, str], tags: list[Tag], now: datetime) -> None:
    if not tags:
        return
    immutable = any(labels.get(key, "").strip().lower() == "true" for key in IMMUTABLE_KEYS)
    if immutable:
        Tag.objects.filter(pk__in=[t.pk for t in tags]).update(immutable=True, expires_at=None)
        return
    expires_after = next((parse_duration(labels[key]) for key in EXPIRES_AFTER_KEYS if key in labels), None)
    if expires_after:
        # an immutable tag never expires
        Tag.objects.filter(pk__in=[t.pk for t in tags], immutable=False).update(expires_at=now + expires_after)
        repository_lookups_invalidate(repository_id=manifest.repository_id)  # cached tag lookups carry the expiry
    elif any(key in labels for key in EXPIRES_AFTER_KEYS):
        logger.info("ignoring an expires-after label that is not <number><s|m|h|d|w> on %s", manifest.digest)
