"""Tag writes. A tag write is one short transaction; history is kept as lifetime rows."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.principals import Principal
from common.errors import (
    ConflictError,
    InvalidRequestError,
    ManifestUnknownError,
    NotFoundError,
    TagImmutableError,
    UnavailableError,
)
from common.grammar import validate_tag
from repositories.models import Manifest, Repository, Tag
from repositories.selectors_tags import restorable_tag_exists
from repositories.services.audit import RequestInfo, audit_log
from repositories.services.lifecycle import tag_immutable_by_policy
from repositories.services.repositories import repository_touch

#: Every failed attempt means another writer of the tag committed in the meantime (on
#: PostgreSQL a waiter re-checks the row it waited for, finds it ended and then loses the insert
#: to the new live row), so N concurrent writers need up to N attempts; 5 turned a quarter of
#: 16 concurrent pushes of one tag into 503s (tests/repositories/test_races.py).
_RACE_RETRIES = 32


def tag_point(*, repository: Repository, name: str, manifest: Manifest, now: datetime | None = None, reversion: bool = False) -> Tag:
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
                immutable = tag_immutable_by_policy(repository=repository, name=name)  # immutability policies
                return Tag.objects.create(
                    repository=repository, name=name, manifest=manifest, lifetime_start=now, reversion=reversion, immutable=immutable
                )
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


# -- the REST API's tag writes: each one audited ---------------------------------------------
def _live_visible(repository: Repository, name: str, now: datetime) -> Tag | None:
    """The live, unexpired, visible row of tag ``name``, locked."""
    live = Tag.objects.select_for_update().filter(repository=repository, name=name, lifetime_end__isnull=True, hidden=False).first()
    if live is None or (live.expires_at is not None and live.expires_at <= now):
        return None
    return live


def tag_create_or_move(
    *, repository: Repository, name: str, manifest_digest: str, actor: Principal | None = None, request: RequestInfo | None = None
) -> Tag:
    """Point tag ``name`` at the manifest ``manifest_digest`` (create it or move it).

    Raises TAG_INVALID, NOT_FOUND (no such manifest in the repository) and TAG_IMMUTABLE.
    Logs ``create_tag`` or ``move_tag``.
    """
    validate_tag(name)
    manifest = Manifest.objects.filter(repository=repository, digest=manifest_digest, deleted_at__isnull=True).first()
    if manifest is None:
        raise NotFoundError("manifest not found in this repository", detail={"manifest_digest": manifest_digest[:200]})
    with transaction.atomic():
        now = timezone.now()
        previous = _live_visible(repository, name, now)
        original_digest = previous.manifest.digest if previous is not None else None
        tag = tag_point(repository=repository, name=name, manifest=manifest, now=now)
        if previous is None or previous.pk != tag.pk:
            repository_touch(repository=repository)
            audit_log(
                kind="move_tag" if previous is not None else "create_tag", principal=actor, repository=repository, request=request,
                metadata={"tag": name, "manifest_digest": manifest.digest, "original_manifest_digest": original_digest},
            )
    return tag


def tag_set_expiration(
    *, repository: Repository, name: str, expires_at: datetime | None, actor: Principal | None = None, request: RequestInfo | None = None
) -> Tag:
    """Set (or clear, with None) when the live tag ``name`` expires.

    Raises NOT_FOUND (no live tag), INVALID_REQUEST (a time not in the future) and TAG_IMMUTABLE
    (immutable tags never expire). Logs ``change_tag_expiration`` when it changes.
    """
    now = timezone.now()
    if expires_at is not None and expires_at <= now:
        raise InvalidRequestError("expiration must be in the future", detail={"expiration": expires_at.isoformat()})
    with transaction.atomic():
        live = _live_visible(repository, name, now)
        if live is None:
            raise NotFoundError("tag not found", detail={"tag": name})
        if live.immutable:
            raise TagImmutableError("an immutable tag cannot expire", detail={"tag": name})
        previous = live.expires_at
        if previous != expires_at:
            live.expires_at = expires_at
            live.save(update_fields=["expires_at"])
            audit_log(
                kind="change_tag_expiration", principal=actor, repository=repository, request=request,
                metadata={
                    "tag": name,
                    "expiration_date": expires_at.isoformat() if expires_at else None,
                    "old_expiration_date": previous.isoformat() if previous else None,
                },
            )
    return live


def tag_set_immutable(
    *, repository: Repository, name: str, immutable: bool, actor: Principal | None = None, request: RequestInfo | None = None
) -> Tag:
    """Make the live tag ``name`` immutable (or mutable again).

    Raises NOT_FOUND (no live tag) and CONFLICT (a tag with an expiration cannot be made
    immutable: clear the expiration first). Logs ``change_tag_immutability`` when it changes.
    """
    now = timezone.now()
    with transaction.atomic():
        live = _live_visible(repository, name, now)
        if live is None:
            raise NotFoundError("tag not found", detail={"tag": name})
        if immutable and live.expires_at is not None:
            raise ConflictError("a tag with an expiration cannot be made immutable; clear its expiration first", detail={"tag": name})
        if live.immutable != immutable:
            live.immutable = immutable
            live.save(update_fields=["immutable"])
            audit_log(
                kind="change_tag_immutability", principal=actor, repository=repository, request=request,
                metadata={"tag": name, "immutable": immutable, "old_immutable": not immutable},
            )
    return live


def tag_remove(*, repository: Repository, name: str, actor: Principal | None = None, request: RequestInfo | None = None) -> None:
    """End the live lifetime of tag ``name`` (it stays in the time machine) and log ``delete_tag``.

    Raises TAG_INVALID, MANIFEST_UNKNOWN (no live tag) and TAG_IMMUTABLE.
    """
    with transaction.atomic():
        tag_delete(repository=repository, name=name)
        repository_touch(repository=repository)
        audit_log(kind="delete_tag", principal=actor, repository=repository, request=request, metadata={"tag": name})


def tag_restore(
    *, repository: Repository, name: str, manifest_digest: str, actor: Principal | None = None, request: RequestInfo | None = None
) -> Tag:
    """Point tag ``name`` back at ``manifest_digest``, which it pointed at within the namespace's
    time-machine window (``Namespace.tag_expiration_s``); the new lifetime is a ``reversion``.

    A manifest deleted by digest comes back. Raises TAG_INVALID, INVALID_REQUEST (not in the
    tag's history within the window) and TAG_IMMUTABLE. Logs ``revert_tag``.
    """
    validate_tag(name)
    now = timezone.now()
    with transaction.atomic():
        manifest = Manifest.objects.select_for_update().filter(repository=repository, digest=manifest_digest).first()
        if manifest is None or not restorable_tag_exists(repository=repository, name=name, manifest=manifest, now=now):
            raise InvalidRequestError(
                "the tag did not point at this manifest within the time-machine window",
                detail={"tag": name, "manifest_digest": manifest_digest[:200], "window_s": repository.namespace.tag_expiration_s},
            )
        if manifest.deleted_at is not None:
            manifest.deleted_at = None
            manifest.save(update_fields=["deleted_at"])
        tag = tag_point(repository=repository, name=name, manifest=manifest, now=now, reversion=True)
        repository_touch(repository=repository)
        audit_log(
            kind="revert_tag", principal=actor, repository=repository, request=request,
            metadata={"tag": name, "manifest_digest": manifest.digest},
        )
    return tag
