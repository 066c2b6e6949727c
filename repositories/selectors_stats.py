"""Reads of the pull statistics, in the shape of Quay's ``pull_statistics`` endpoints (counts
flushed into rows plus, with Redis, the pulls still in the buffer)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from repositories.models import ManifestPullStatistic, Repository, TagPullStatistic
from repositories.selectors_tags import live_tag_find
from repositories.services.pull_stats import buffered_counts


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return max((x for x in (a, b) if x is not None), default=None)


def _row(model, repository: Repository, **key: str) -> tuple[int, datetime | None]:
    row = model.objects.filter(repository=repository, **key).values_list("pull_count", "last_pulled").first()
    return (row[0], row[1]) if row else (0, None)


def manifest_pull_stats(*, repository: Repository, digest: str) -> tuple[int, datetime | None]:
    count, last = _row(ManifestPullStatistic, repository, manifest_digest=digest)
    pending, pending_last = buffered_counts(repository_id=repository.pk, digest=digest).get("m", (0, None))
    return count + pending, _later(last, pending_last)


def tag_pull_stats(*, repository: Repository, tag: str) -> tuple[int, datetime | None]:
    count, last = _row(TagPullStatistic, repository, tag_name=tag)
    pending, pending_last = buffered_counts(repository_id=repository.pk, tag=tag).get("t", (0, None))
    return count + pending, _later(last, pending_last)


def tag_pull_stats_map(*, repository: Repository, names: list[str]) -> dict[str, tuple[int, datetime | None]]:
    """Flushed counts of several tags at once (one query), for tag lists; names never pulled are absent."""
    rows = TagPullStatistic.objects.filter(repository=repository, tag_name__in=names).values_list("tag_name", "pull_count", "last_pulled")
    return {name: (count, last) for name, count, last in rows}


def tag_pull_statistics(*, repository: Repository, tag: str, date: Any) -> dict[str, Any] | None:
    """Quay's tag ``pull_statistics``; None when the tag neither exists nor was ever pulled.
    ``date`` formats a datetime (the API's date format)."""
    live = live_tag_find(repository=repository, name=tag)
    count, last = tag_pull_stats(repository=repository, tag=tag)
    if live is None and not count:
        return None
    body: dict[str, Any] = {"tag_name": tag, "tag_pull_count": count, "last_tag_pull_date": date(last) if last else None}
    digest = live.manifest.digest if live is not None else None
    body["current_manifest_digest"] = digest
    manifest_count, manifest_last = manifest_pull_stats(repository=repository, digest=digest) if digest else (0, None)
    body["manifest_pull_count"] = manifest_count
    body["last_manifest_pull_date"] = date(manifest_last) if manifest_last else None
    return body


def manifest_pull_statistics(*, repository: Repository, digest: str, date: Any) -> dict[str, Any]:
    count, last = manifest_pull_stats(repository=repository, digest=digest)
    return {"manifest_digest": digest, "manifest_pull_count": count, "last_manifest_pull_date": date(last) if last else None}
