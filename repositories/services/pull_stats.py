"""Pull statistics per tag and per manifest (count, last pulled).

Every ``GET /v2/<name>/manifests/<ref>`` counts its pull (``services.pulls.manifest_pull_record``,
which queues these counts in the same Redis round trip as the pull's audit entry). Where the count goes first:

* Redis configured (``redis.url``): one pipelined ``HINCRBY`` + ``HSET`` on one hash (no database
  write on the pull path); ``pull_stats_flush`` (task ``registry.stats.flush_pulls``, every
  minute) atomically RENAMEs the hash aside, adds its counts to the rows in one transaction, then
  deletes it. A flush that died leaves its renamed hash behind; the next flush takes over hashes
  older than ``_STALE_FLUSH`` (a live flush takes seconds). The window between the database commit
  and the ``DEL`` can, if the process dies exactly there, count those pulls twice (at-least-once).
* No Redis (the embedded default, one host): an atomic ``UPDATE ... SET pull_count = pull_count + 1``
  (an ``INSERT`` the first time). The pull already writes its audit-log row, so this is one more
  small write, not a new kind of load; a per-process buffer would lose counts whenever a worker
  restarts and could not be flushed from another process. The flush task then has nothing to do.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone as dt_timezone
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from repositories.models import ManifestPullStatistic, Repository, TagPullStatistic

logger = logging.getLogger("moorage.pull_stats")

#: a flushing hash older than this belongs to a flush that died
_STALE_FLUSH = 600


def enabled() -> bool:
    return bool(settings.MOORAGE["logs"]["pull_statistics"])


@lru_cache(maxsize=4)
def _client_for(url: str):
    import redis

    return redis.Redis.from_url(url, **settings.REDIS_SOCKET_OPTIONS)


def redis_client():
    """The Redis client when ``redis.url`` is configured, else None."""
    url = getattr(settings, "REDIS_URL", None)
    return _client_for(url) if url else None


def _key(suffix: str) -> str:
    return f"{settings.MOORAGE['redis']['key_prefix']}:pullstats:{suffix}"


def buffer_key() -> str:
    return _key("buffer")


def _field(kind: str, repository_id: int, name: str) -> tuple[str, str]:
    """Count and last-pull fields of one tag (``t``) or manifest (``m``)."""
    base = f"{kind}|{repository_id}|{name}"
    return f"c|{base}", f"l|{base}"


def _add(model: type[models.Model], *, repository_id: int, key: str, name: str, count: int, last: datetime) -> None:
    """Add ``count`` pulls to one row (created when missing), keeping the latest pull time."""
    updated = model.objects.filter(repository_id=repository_id, **{key: name}).update(
        pull_count=F("pull_count") + count, last_pulled=Greatest(Coalesce(F("last_pulled"), Value(last)), Value(last))
    )
    if updated:
        return
    try:
        with transaction.atomic():
            model.objects.create(repository_id=repository_id, **{key: name}, pull_count=count, last_pulled=last)
    except IntegrityError:  # another process created it in between
        model.objects.filter(repository_id=repository_id, **{key: name}).update(
            pull_count=F("pull_count") + count, last_pulled=Greatest(Coalesce(F("last_pulled"), Value(last)), Value(last))
        )


def pull_count_queue(pipe: Any, *, repository_id: int, tag: str | None, digest: str, now: datetime) -> None:
    """Queue the Redis commands counting one pull on ``pipe`` (a pipeline the caller executes)."""
    stamp = int(now.timestamp())
    for kind, name in [("m", digest)] + ([("t", tag)] if tag else []):
        count_field, last_field = _field(kind, repository_id, name)
        pipe.hincrby(buffer_key(), count_field, 1)
        pipe.hset(buffer_key(), last_field, stamp)


def pull_record(*, repository: Repository, tag: str | None, digest: str, now: datetime | None = None) -> None:
    """Count one pull of ``digest`` (through ``tag`` when pulled by tag). Never raises: a failure
    is logged and the pull goes on."""
    if not enabled():
        return
    now = now or timezone.now()
    try:
        client = redis_client()
        if client is not None:
            pipe = client.pipeline(transaction=False)
            pull_count_queue(pipe, repository_id=repository.pk, tag=tag, digest=digest, now=now)
            pipe.execute()
            return
    except Exception:  # noqa: BLE001 - statistics never fail a pull
        logger.exception("could not count a pull of %s in repository %s", digest, repository.pk)
        return
    pull_record_direct(repository=repository, tag=tag, digest=digest, now=now)


def pull_record_direct(*, repository: Repository, tag: str | None, digest: str, now: datetime) -> None:
    """Count one pull in the database at once (no Redis, or Redis failed). Never raises."""
    if not enabled():
        return
    try:
        with transaction.atomic():  # a savepoint: a failure here never breaks the request's transaction
            _add(ManifestPullStatistic, repository_id=repository.pk, key="manifest_digest", name=digest, count=1, last=now)
            if tag:
                _add(TagPullStatistic, repository_id=repository.pk, key="tag_name", name=tag, count=1, last=now)
    except Exception:  # noqa: BLE001 - statistics never fail a pull
        logger.exception("could not count a pull of %s in repository %s", digest, repository.pk)


@dataclass
class FlushResult:
    tags: int = 0
    manifests: int = 0
    pulls: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"tags": self.tags, "manifests": self.manifests, "pulls": self.pulls}


def _parse(buffer: dict[bytes, bytes]) -> dict[tuple[str, int, str], list[Any]]:
    """``{(kind, repository_id, name): [count, last datetime]}`` of a buffer hash."""
    rows: dict[tuple[str, int, str], list[Any]] = {}
    for raw_field, raw_value in buffer.items():
        field = raw_field.decode()
        which, kind, repository_id, name = field.split("|", 3)
        row = rows.setdefault((kind, int(repository_id), name), [0, None])
        if which == "c":
            row[0] += int(raw_value)
        else:
            row[1] = datetime.fromtimestamp(int(raw_value), tz=dt_timezone.utc)
    return rows


def _apply(rows: dict[tuple[str, int, str], list[Any]], result: FlushResult) -> None:
    existing = set(Repository.objects.filter(pk__in={key[1] for key in rows}).values_list("pk", flat=True))
    now = timezone.now()
    with transaction.atomic():
        for (kind, repository_id, name), (count, last) in sorted(rows.items()):
            if repository_id not in existing or count <= 0:
                continue  # the repository was deleted since
            if kind == "t":
                _add(TagPullStatistic, repository_id=repository_id, key="tag_name", name=name, count=count, last=last or now)
                result.tags += 1
            else:
                _add(ManifestPullStatistic, repository_id=repository_id, key="manifest_digest", name=name, count=count, last=last or now)
                result.manifests += 1
                result.pulls += count


def _flush_key(client, key: str, result: FlushResult) -> None:
    rows = _parse(client.hgetall(key))
    if rows:
        _apply(rows, result)
    client.delete(key)


def pull_stats_flush() -> FlushResult:
    """Move the Redis buffer into the statistics rows (nothing to do without Redis)."""
    result = FlushResult()
    client = redis_client()
    if client is None:
        return result
    now = int(time.time())
    for raw in client.scan_iter(match=_key("flushing:*"), count=100):
        key = raw.decode()
        started = int(key.rsplit(":", 2)[-2])
        if now - started > _STALE_FLUSH:
            claimed = _key(f"flushing:{now}:{uuid.uuid4().hex}")
            try:
                client.rename(key, claimed)  # only one flush wins a stale hash
            except Exception:  # noqa: BLE001 - another flush took it
                continue
            logger.warning("pull statistics: taking over the buffer of a flush that died (%s)", key)
            _flush_key(client, claimed, result)
    flushing = _key(f"flushing:{now}:{uuid.uuid4().hex}")
    try:
        client.rename(buffer_key(), flushing)
    except Exception as exc:  # noqa: BLE001 - "no such key": nothing was pulled since the last flush
        if "no such key" not in str(exc).lower():
            raise
        return result
    _flush_key(client, flushing, result)
    return result


def buffered_counts(*, repository_id: int, tag: str | None = None, digest: str | None = None) -> dict[str, tuple[int, datetime | None]]:
    """Pulls still in the Redis buffer (not yet flushed) of one tag and/or manifest:
    ``{"t": (count, last), "m": (count, last)}``; empty without Redis."""
    client = redis_client()
    if client is None:
        return {}
    wanted = [(kind, name) for kind, name in (("t", tag), ("m", digest)) if name]
    fields = [f for kind, name in wanted for f in _field(kind, repository_id, name)]
    try:
        values = client.hmget(buffer_key(), fields)
    except Exception:  # noqa: BLE001 - the rows are still right, only a few minutes behind
        return {}
    result = {}
    for index, (kind, _name) in enumerate(wanted):
        count, last = values[2 * index], values[2 * index + 1]
        result[kind] = (int(count or 0), datetime.fromtimestamp(int(last), tz=dt_timezone.utc) if last else None)
    return result
