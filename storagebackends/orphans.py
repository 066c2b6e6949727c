"""Finding the backend-side state of uploads nobody will finish (``upload_orphans_remove``)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Collection, Iterable

from storagebackends.paths import upload_id_of, upload_path


def aware(moment: datetime) -> datetime:
    """Naive datetimes are taken as UTC (object stores report aware ones)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def stale_uploads(entries: Iterable[tuple[str, datetime]], *, older_than: datetime, keep: Collection[str]) -> dict[str, list[str]]:
    """Group ``(key relative to the storage root, last modified)`` by upload id.

    Returns ``{upload id: [keys]}`` for the uploads whose upload path is not in ``keep`` and whose
    every piece was last written before ``older_than`` (an upload still receiving chunks is never
    taken, whenever it began). Keys outside ``uploads/<id>/`` are ignored.
    """
    cutoff = aware(older_than)
    keys: dict[str, list[str]] = {}
    newest: dict[str, datetime] = {}
    for key, modified in entries:
        upload_id = upload_id_of(key)
        if upload_id is None:
            continue
        keys.setdefault(upload_id, []).append(key)
        modified = aware(modified)
        if upload_id not in newest or modified > newest[upload_id]:
            newest[upload_id] = modified
    kept = set(keep)
    return {
        upload_id: sorted(paths)
        for upload_id, paths in keys.items()
        if upload_path(upload_id) not in kept and newest[upload_id] < cutoff
    }
