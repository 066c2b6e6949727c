"""Tag writes. A tag write is one short transaction; history is kept as lifetime rows."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from common.errors import ManifestUnknownError, TagImmutableError, UnavailableError
from common.grammar import validate_tag
from repositories.models import Manifest, Repository, Tag

#: Every failed attempt means another writer of the tag committed in the meantime (on
#: PostgreSQL a waiter re-checks the row it waited for, finds it ended and then loses the insert
#: to the new live row), so N concurrent writers need up to N attempts; 5 turned a quarter of
#: 16 concurrent pushes of one tag into 503s (tests/repositories/test_races.py).
_RACE_RETRIES = 32


def tag_point(*, repository: Repository, name: str, manifest: Manifest, now: datetime | None = None) -> Tag:
    """Point tag ``name`` at ``manifest``: end the live row (if it points elsewhere) and start a new one.

    Raises TAG_IMMUTABLE when the live row is immutable and would move. Two racing writers of
    one tag are serialized by the partial unique index: the loser retries against the winner's row.
    """
    validate_tag(name)
    for _attempt in range(_RACE_RETRIES):
        now = now or timezone.now()
        try:
            with transaction.atomic():
                live = (
                    Tag.objects.select_for_update()
                    .filter(repository=repository, name=name, lifetime_end__isnull=True)
                    .first()
                )
                if live is not None:
                    # ``now`` may have been read before another writer's move committed (or on a
                    # host whose clock lags): never end a lifetime before it started.
                    now = max(now, live.lifetime_start)
                    expired = live.expires_at is not None and live.expires_at <= now
                    if live.manifest_id == manifest.id and not expired and not live.hidden:
                        return live
                    if live.immutable and not expired:
                        raise TagImmutableError(detail={"tag": name})
                    live.lifetime_end = now
                    live.save(update_fields=["lifetime_end"])
                return Tag.objects.create(repository=repository, name=name, manifest=manifest, lifetime_start=now)
        except IntegrityError:
            now = None  # another writer won the slot: look again
            continue
    raise UnavailableError("tag is being changed by too many writers; retry", detail={"tag": name})


def tag_delete(*, repository: Repository, name: str) -> None:
    """End the live lifetime of tag ``name``; MANIFEST_UNKNOWN when there is none."""
    validate_tag(name)
    now = timezone.now()
    with transaction.atomic():
        live = Tag.objects.select_for_update().filter(repository=repository, name=name, lifetime_end__isnull=True, hidden=False).first()
        if live is None or (live.expires_at is not None and live.expires_at <= now):
            raise ManifestUnknownError(detail={"name": repository.full_name, "tag": name})
        if live.immutable:
            raise TagImmutableError(detail={"tag": name})
        live.lifetime_end = now
        live.save(update_fields=["lifetime_end"])
