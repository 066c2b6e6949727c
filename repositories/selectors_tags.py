"""Reads behind the tag, manifest and label API: tag history pages, manifest layers, the image
config (read from storage), labels."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

from django.db.models import Q, QuerySet

from common.errors import InvalidRequestError, RegistryError
from repositories.media_types import INDEX_TYPES, ParsedManifest, parse_manifest
from repositories.models import Blob, Label, Manifest, Repository, Tag
from repositories.selectors import blob_locations, live_tags
from storagebackends.base import StorageError
from storagebackends.paths import blob_path
from storagebackends.registry import locations_in_preference_order

logger = logging.getLogger(__name__)

#: An image config is a small JSON document; a larger "config" is not read for labels or layers.
MAX_CONFIG_BYTES = 2 * 1024 * 1024
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class TagRow:
    """One lifetime of a tag as the history API shows it."""

    tag: Tag
    #: when the lifetime ended or will end: ``lifetime_end``, else a set expiry (None: open-ended)
    end: datetime | None
    #: compressed size of the image's layers (None for an index or unreadable content)
    size: int | None

    @property
    def is_manifest_list(self) -> bool:
        return self.tag.manifest.media_type in INDEX_TYPES


@dataclass(frozen=True)
class TagHistoryPage:
    rows: list[TagRow]
    page: int
    has_additional: bool


def tag_history_page(
    *, repository: Repository, page: int = 1, limit: int = 50, specific_tag: str | None = None,
    filter_tag_name: str | None = None, only_active: bool = False,
) -> TagHistoryPage:
    """Tag lifetimes of ``repository``, newest first (Quay's order: start time, then name).

    Ended lifetimes are included unless ``only_active``; hidden tags never. ``filter_tag_name``
    is ``like:<part>`` (case-insensitive substring) or ``eq:<name>``. Raises INVALID_REQUEST for
    another syntax.
    """
    page = max(1, page)
    limit = min(MAX_PAGE_SIZE, max(1, limit))
    query: QuerySet[Tag] = Tag.objects.filter(repository=repository, hidden=False)
    if only_active:
        query = query.filter(live_tags())
    if filter_tag_name:
        operation, separator, value = filter_tag_name.partition(":")
        if not separator or operation not in ("like", "eq"):
            raise InvalidRequestError(
                "Unsupported syntax for filter_tag_name. Expected <operation>:<tag_name> where <operation> can be 'like' or 'eq'.",
                detail={"filter_tag_name": filter_tag_name[:200]},
            )
        query = query.filter(name__icontains=value) if operation == "like" else query.filter(name=value)
    if specific_tag:
        query = query.filter(name=specific_tag)
    offset = (page - 1) * limit
    fetched = list(
        query.select_related("manifest")
        .only(
            "name", "lifetime_start", "lifetime_end", "expires_at", "immutable", "reversion",
            "manifest__digest", "manifest__media_type", "manifest__content",
        )
        .order_by("-lifetime_start", "name", "-id")[offset : offset + limit + 1]
    )
    sizes: dict[int, int | None] = {}
    rows = []
    for tag in fetched[:limit]:
        if tag.manifest_id not in sizes:
            sizes[tag.manifest_id] = _layers_size(tag.manifest)
        rows.append(TagRow(tag=tag, end=_end_of(tag), size=sizes[tag.manifest_id]))
    return TagHistoryPage(rows=rows, page=page, has_additional=len(fetched) > limit)


def _end_of(tag: Tag) -> datetime | None:
    if tag.lifetime_end is not None:
        if tag.expires_at is not None and tag.expires_at < tag.lifetime_end:
            return tag.expires_at  # it expired before anyone ended it
        return tag.lifetime_end
    return tag.expires_at


def _parsed(manifest: Manifest) -> ParsedManifest | None:
    try:
        return parse_manifest(bytes(manifest.content), manifest.media_type, manifest.digest.partition(":")[0])
    except RegistryError:
        return None


def _layers_size(manifest: Manifest) -> int | None:
    if manifest.media_type in INDEX_TYPES:
        return None
    parsed = _parsed(manifest)
    return sum(layer.size for layer in parsed.layers) if parsed else None


def live_tag_find(*, repository: Repository, name: str) -> Tag | None:
    """The visible, unexpired tag ``name``."""
    return Tag.objects.filter(live_tags(), repository=repository, name=name).select_related("manifest").first()


def restorable_tag_exists(*, repository: Repository, name: str, manifest: Manifest, now: datetime) -> bool:
    """Whether tag ``name`` pointed at ``manifest`` within the namespace's time-machine window."""
    cutoff = now - timedelta(seconds=repository.namespace.tag_expiration_s)
    still_open = Q(lifetime_end__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gte=cutoff))
    return Tag.objects.filter(
        still_open | Q(lifetime_end__gte=cutoff), repository=repository, name=name, manifest=manifest, hidden=False
    ).exists()


def manifest_find_any(*, repository: Repository, digest: str) -> Manifest | None:
    """The manifest with ``digest``, even one deleted by digest (the time machine may restore it)."""
    return Manifest.objects.filter(repository=repository, digest=digest).first()


# -- image config --------------------------------------------------------------------------
def config_document(*, blob: Blob) -> dict[str, Any] | None:
    """The image config JSON held by ``blob``, or None when it is too large, missing from
    storage or not a JSON object. Never raises for bad content."""
    if blob.size > MAX_CONFIG_BYTES:
        return None
    held = set(blob_locations(blob=blob))
    for backend in locations_in_preference_order():
        if backend.name not in held:
            continue
        try:
            with backend.open(blob_path(blob.digest)) as handle:
                data = handle.read(MAX_CONFIG_BYTES + 1)
        except (StorageError, OSError) as exc:
            logger.warning("could not read config blob %s from %s: %s", blob.digest, backend.name, exc)
            continue
        try:
            document = json.loads(data)
        except (ValueError, RecursionError):
            return None
        return document if isinstance(document, dict) else None
    return None


def config_labels(document: dict[str, Any] | None) -> dict[str, str]:
    """``config.Labels`` (or a top-level ``Labels``) of an image config: string values only."""
    if not isinstance(document, dict):
        return {}
    inner = document.get("config")
    labels = inner.get("Labels") if isinstance(inner, dict) else None
    if labels is None:
        labels = document.get("Labels")
    if not isinstance(labels, dict):
        return {}
    return {key: value for key, value in labels.items() if isinstance(key, str) and isinstance(value, str)}


def manifest_config_blob(*, manifest: Manifest, parsed: ParsedManifest | None = None) -> Blob | None:
    """The config blob of an image manifest (None for an index or a config not in the registry)."""
    parsed = parsed or _parsed(manifest)
    if parsed is None or parsed.config is None:
        return None
    return Blob.objects.filter(digest=parsed.config.digest, manifest_links__manifest=manifest).first()


# -- manifest details ------------------------------------------------------------------------
@dataclass(frozen=True)
class LayerInfo:
    index: int
    compressed_size: int
    is_remote: bool
    urls: list[str] | None
    command: list[str] | None
    comment: str | None
    author: str | None
    blob_digest: str
    created_datetime: datetime | None


def manifest_layers(*, manifest: Manifest) -> list[LayerInfo] | None:
    """The layers of an image manifest with what its config's history says about each
    (command, author, comment, time); None for an index."""
    if manifest.media_type in INDEX_TYPES:
        return None
    parsed = _parsed(manifest)
    if parsed is None:
        return None
    history: list[dict[str, Any]] = []
    blob = manifest_config_blob(manifest=manifest, parsed=parsed)
    document = config_document(blob=blob) if blob is not None else None
    if document is not None and isinstance(document.get("history"), list):
        history = [h for h in document["history"] if isinstance(h, dict) and not h.get("empty_layer")]
    if len(history) != len(parsed.layers):
        history = []  # the history does not describe these layers one to one: say nothing
    layers = []
    for index, layer in enumerate(parsed.layers):
        entry = history[index] if history else {}
        created_by = entry.get("created_by")
        layers.append(
            LayerInfo(
                index=index,
                compressed_size=layer.size,
                is_remote=bool(layer.urls),
                urls=list(layer.urls) or None,
                command=[created_by] if isinstance(created_by, str) and created_by else None,
                comment=entry.get("comment") if isinstance(entry.get("comment"), str) else None,
                author=entry.get("author") if isinstance(entry.get("author"), str) else None,
                blob_digest=layer.digest,
                created_datetime=_parse_time(entry.get("created")),
            )
        )
    return layers


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    text = value.strip().replace("Z", "+00:00")
    # Go writes nanoseconds; Python's parser takes at most microseconds.
    if "." in text:
        head, _, rest = text.partition(".")
        digits = "".join(c for c in rest if c.isdigit())
        text = f"{head}.{digits[:6]}{rest[len(digits):]}" if digits else head + rest[len(digits):]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt_timezone.utc)


# -- labels ------------------------------------------------------------------------------------
def manifest_labels(*, manifest: Manifest, prefix: str | None = None) -> list[Label]:
    query = Label.objects.filter(manifest=manifest)
    if prefix:
        query = query.filter(key__startswith=prefix)
    return list(query.order_by("key", "id"))


def manifest_label_find(*, manifest: Manifest, label_id: str) -> Label | None:
    try:
        value = uuid.UUID(label_id)
    except ValueError:
        return None
    return Label.objects.filter(manifest=manifest, uuid=value).first()
