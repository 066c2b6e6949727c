"""Build logs: one small interface over where the live log of a build is kept.

Entries are Quay's build-log entries: ``{"message", "type"?, "data"?, "datetime"}`` (``type`` is
``phase``, ``command`` or ``error``; plain output lines have none). While a build runs its entries
live in a Redis list (``<key prefix>:buildlogs:<uuid>``) when Redis is configured, else in
``BuildLogEntry`` rows; the archiver (``build_logs_archive``) moves a finished build's entries into
one gzipped JSON-lines object in storage and deletes the live copy. ``build_log_read`` serves
either transparently.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any, Protocol

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from repositories.models.builds import FINISHED_PHASES, BuildLogEntry, RepositoryBuild
from storagebackends.base import ObjectNotFound
from storagebackends.paths import build_log_path
from storagebackends.registry import get_location, preferred_location

#: longest message kept per entry (a runaway output line must not fill Redis)
MAX_MESSAGE_CHARS = 8192


class LiveLogStore(Protocol):
    def append(self, build: RepositoryBuild, entries: list[dict[str, Any]]) -> None: ...
    def read(self, build: RepositoryBuild, start: int) -> tuple[list[dict[str, Any]], int]: ...
    def all(self, build: RepositoryBuild) -> list[dict[str, Any]]: ...
    def delete(self, build: RepositoryBuild) -> None: ...


class DatabaseLogStore:
    """Rows of ``BuildLogEntry``, numbered per build."""

    def append(self, build: RepositoryBuild, entries: list[dict[str, Any]]) -> None:
        for _attempt in range(5):
            try:
                with transaction.atomic():
                    last = BuildLogEntry.objects.filter(build=build).aggregate(m=Max("seq"))["m"]
                    first = 0 if last is None else last + 1
                    BuildLogEntry.objects.bulk_create(BuildLogEntry(build=build, seq=first + i, entry=e) for i, e in enumerate(entries))
                return
            except IntegrityError:  # another writer (a cancel) took the number: count again
                continue

    def read(self, build: RepositoryBuild, start: int) -> tuple[list[dict[str, Any]], int]:
        entries = list(BuildLogEntry.objects.filter(build=build, seq__gte=start).order_by("seq").values_list("entry", flat=True))
        total = BuildLogEntry.objects.filter(build=build).count()
        return entries, total

    def all(self, build: RepositoryBuild) -> list[dict[str, Any]]:
        return list(BuildLogEntry.objects.filter(build=build).order_by("seq").values_list("entry", flat=True))

    def delete(self, build: RepositoryBuild) -> None:
        BuildLogEntry.objects.filter(build=build).delete()


class RedisLogStore:
    """A Redis list per build under the registry's key prefix (shared by every instance)."""

    def __init__(self, url: str, prefix: str):
        import redis

        self.client = redis.Redis.from_url(url)
        self.prefix = prefix

    def _key(self, build: RepositoryBuild) -> str:
        return f"{self.prefix}:buildlogs:{build.uuid.hex}"

    def append(self, build: RepositoryBuild, entries: list[dict[str, Any]]) -> None:
        if entries:
            self.client.rpush(self._key(build), *(json.dumps(e) for e in entries))

    def read(self, build: RepositoryBuild, start: int) -> tuple[list[dict[str, Any]], int]:
        pipe = self.client.pipeline()
        pipe.lrange(self._key(build), start, -1)
        pipe.llen(self._key(build))
        raw, total = pipe.execute()
        return [json.loads(item) for item in raw], int(total)

    def all(self, build: RepositoryBuild) -> list[dict[str, Any]]:
        return self.read(build, 0)[0]

    def delete(self, build: RepositoryBuild) -> None:
        self.client.delete(self._key(build))


@lru_cache(maxsize=4)
def _store_for(url: str, prefix: str) -> LiveLogStore:
    return RedisLogStore(url, prefix) if url else DatabaseLogStore()


def live_log_store() -> LiveLogStore:
    """The configured live store: Redis when configured, else the database."""
    return _store_for(settings.REDIS_URL or "", settings.MOORAGE["redis"]["key_prefix"])


def log_entry(message: str, *, kind: str | None = None, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """One entry in Quay's shape."""
    entry: dict[str, Any] = {"message": message[:MAX_MESSAGE_CHARS], "datetime": timezone.now().isoformat()}
    if kind:
        entry["type"] = kind
    if data:
        entry["data"] = data
    return entry


def build_log_append(*, build: RepositoryBuild, entries: Iterable[dict[str, Any]]) -> None:
    """Append entries to the live log of ``build``."""
    items = list(entries)
    if items:
        live_log_store().append(build, items)


@dataclass(frozen=True)
class BuildLogPage:
    start: int
    total: int
    logs: list[dict[str, Any]]


def _archived_entries(build: RepositoryBuild) -> list[dict[str, Any]]:
    location = get_location(build.log_archive_location)
    with location.open(build.log_archive_path) as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def build_log_read(*, build: RepositoryBuild, start: int = 0) -> BuildLogPage:
    """Entries from ``start`` on (live or archived) and the total count so far."""
    start = max(0, start)
    if build.log_archive_path:
        try:
            entries = _archived_entries(build)
        except ObjectNotFound:
            entries = []
        return BuildLogPage(start=start, total=len(entries), logs=entries[start:])
    logs, total = live_log_store().read(build, start)
    return BuildLogPage(start=start, total=total, logs=logs)


def _gzip_lines(entries: list[dict[str, Any]]) -> Iterator[bytes]:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz:
        for entry in entries:
            gz.write(json.dumps(entry, separators=(",", ":")).encode() + b"\n")
    yield buffer.getvalue()


def build_log_archive(*, build: RepositoryBuild) -> bool:
    """Move one finished build's live log into storage (idempotent); False when not finished or
    already archived. The live copy is deleted only after the archive object and the row point at it."""
    if build.phase not in FINISHED_PHASES or build.log_archive_path:
        return False
    store = live_log_store()
    entries = store.all(build)
    location = preferred_location()
    path = build_log_path(build.uuid.hex)
    location.write_atomic(path, _gzip_lines(entries))
    updated = RepositoryBuild.objects.filter(pk=build.pk, log_archive_path="").update(log_archive_location=location.name, log_archive_path=path)
    if updated:
        store.delete(build)
        build.log_archive_location, build.log_archive_path = location.name, path
    return bool(updated)


def build_logs_archive_due(*, older_than_s: int | None = None, limit: int = 200) -> int:
    """The archiver: archive the logs of builds finished at least ``older_than_s`` seconds ago
    (``builds.log_archive_after_s``). Returns how many were archived."""
    if older_than_s is None:
        older_than_s = settings.MOORAGE["builds"]["log_archive_after_s"]
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    due = RepositoryBuild.objects.filter(phase__in=FINISHED_PHASES, log_archive_path="", finished_at__lte=cutoff).order_by("finished_at")[:limit]
    return sum(1 for build in due if build_log_archive(build=build))


def build_log_delete_archive(*, build: RepositoryBuild) -> None:
    """Remove the archived object of a build (when the build row goes away)."""
    if build.log_archive_path:
        try:
            get_location(build.log_archive_location).delete(build.log_archive_path)
        except ObjectNotFound:
            pass
