"""Namespace storage quotas: configuration, usage accounting and enforcement on push.

Usage is the deduplicated size of the blobs referenced by manifests of a namespace's live
repositories (a blob shared by two repositories of one namespace counts once), cached in
``NamespaceUsage`` / ``RepositoryUsage``. A manifest push adds the sizes of blobs new to the
namespace (and to the repository) while holding the namespace's usage row lock, so concurrent
pushes of one namespace account one after the other; ``namespace_usage_recompute`` rebuilds both
from the content tables (periodically, and after garbage collection deleted content).

Enforcement (``settings.MOORAGE["quotas"]["enforce"]``): only a ``Reject`` limit refuses. A push is
refused with ``QuotaExceededError`` (DENIED, 403) at upload start (usage already at the limit), on
every chunk (usage + bytes of this upload) and at manifest PUT (usage + blobs new to the namespace).
Crossing the Warning / Reject threshold emits ``quota_warning`` / ``quota_error`` once per crossing
(``NamespaceUsage.notified_level``, reset when usage drops back below).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from accounts.models import Namespace
from accounts.principals import Principal
from common.errors import ConflictError, DeniedError, InvalidRequestError, NotFoundError
from repositories.models import Blob, ManifestBlob, Repository
from repositories.models.lifecycle import NamespaceQuota, NamespaceUsage, QuotaLimit, RepositoryUsage
from repositories.quota_cache import thresholds_cached
from repositories.services.audit import RequestInfo, audit_log
from repositories.signals import emit_registry_event

LEVEL_NONE, LEVEL_WARNING, LEVEL_REJECT = 0, 1, 2


class QuotaExceededError(DeniedError):
    """A push would cross the namespace's Reject threshold (DENIED, 403, as Quay)."""

    default_message = "quota exceeded"


@dataclass(frozen=True)
class Thresholds:
    """A namespace's quota in bytes: the limit and its Warning / Reject thresholds (None = none)."""

    limit_bytes: int
    warning_bytes: int | None
    reject_bytes: int | None
    warning_percent: int | None
    reject_percent: int | None


def _thresholds(namespace_id: int) -> Thresholds | None:
    quota = NamespaceQuota.objects.filter(namespace_id=namespace_id).prefetch_related("limits").first()
    if quota is None:
        return None
    warning = [limit.threshold_percent for limit in quota.limits.all() if limit.type == QuotaLimit.Type.WARNING]
    reject = [limit.threshold_percent for limit in quota.limits.all() if limit.type == QuotaLimit.Type.REJECT]
    return Thresholds(
        limit_bytes=quota.limit_bytes,
        warning_bytes=quota.limit_bytes * min(warning) // 100 if warning else None,
        reject_bytes=quota.limit_bytes * min(reject) // 100 if reject else None,
        warning_percent=min(warning) if warning else None,
        reject_percent=min(reject) if reject else None,
    )


def _level(thresholds: Thresholds | None, size: int) -> int:
    if thresholds is None:
        return LEVEL_NONE
    if thresholds.reject_bytes is not None and size >= thresholds.reject_bytes:
        return LEVEL_REJECT
    if thresholds.warning_bytes is not None and size >= thresholds.warning_bytes:
        return LEVEL_WARNING
    return LEVEL_NONE


def _usage_row(namespace_id: int, *, lock: bool) -> NamespaceUsage:
    queryset = NamespaceUsage.objects.select_for_update() if lock else NamespaceUsage.objects
    row = queryset.filter(namespace_id=namespace_id).first()
    if row is not None:
        return row
    try:
        with transaction.atomic():
            NamespaceUsage.objects.create(namespace_id=namespace_id, size_bytes=_namespace_size(namespace_id))
    except IntegrityError:  # created by a concurrent push
        pass
    return queryset.get(namespace_id=namespace_id)


def _namespace_blob_ids(namespace_id: int):  # noqa: ANN202 - a queryset of ids
    return ManifestBlob.objects.filter(
        repository__namespace_id=namespace_id, repository__deleted_at__isnull=True
    ).values("blob_id")


def _namespace_size(namespace_id: int) -> int:
    return Blob.objects.filter(id__in=_namespace_blob_ids(namespace_id)).aggregate(total=Sum("size"))["total"] or 0


def _repository_size(repository_id: int) -> int:
    ids = ManifestBlob.objects.filter(repository_id=repository_id).values("blob_id")
    return Blob.objects.filter(id__in=ids).aggregate(total=Sum("size"))["total"] or 0


def _formatted(n: int) -> str:
    value = float(n)
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.2f} {unit}"
        value /= 1024
    return f"{n} bytes"


def _event_payload(namespace: Namespace | None, thresholds: Thresholds, size: int, event_level: int) -> dict:
    """Quay's quota event data (the notification events complete it with the namespace's homepage)."""
    percent = thresholds.reject_percent if event_level == LEVEL_REJECT else thresholds.warning_percent
    return {
        "namespace": namespace.name if namespace is not None else "",
        "threshold_percent": percent,
        "usage_bytes": size,
        "limit_bytes": thresholds.limit_bytes,
        "usage_percent": round(size * 100 / thresholds.limit_bytes, 2) if thresholds.limit_bytes else None,
        "usage_bytes_formatted": _formatted(size),
        "limit_bytes_formatted": _formatted(thresholds.limit_bytes),
    }


def _notify_crossing(
    row: NamespaceUsage, thresholds: Thresholds | None, size: int, *, attempted_reject: bool = False, rearm: bool = False
) -> None:
    """Emit ``quota_warning`` / ``quota_error`` when the level rose past the last notified one
    (once per crossing) and remember the level. Only ``rearm`` (a recomputation, which sees
    deletions) lowers the remembered level, so the next crossing notifies again; a push that
    stays under a threshold after a refusal does not re-arm it. The caller holds ``row`` locked."""
    level = max(_level(thresholds, size), LEVEL_REJECT if attempted_reject else LEVEL_NONE)
    if level == row.notified_level or (level < row.notified_level and not rearm):
        return
    if level > row.notified_level and thresholds is not None:
        event = "quota_error" if level == LEVEL_REJECT else "quota_warning"
        namespace = Namespace.objects.filter(pk=row.namespace_id).first()
        emit_registry_event(event, namespace_id=row.namespace_id, payload=_event_payload(namespace, thresholds, size, level))
    NamespaceUsage.objects.filter(pk=row.pk).update(notified_level=level)
    row.notified_level = level


def _refuse(repository: Repository, thresholds: Thresholds, usage: int, incoming: int) -> QuotaExceededError:
    """Record the refused crossing (one ``quota_error`` per crossing, in its own transaction so
    the refusal rolling back the push keeps it) and build the error."""
    namespace = repository.namespace
    try:
        with transaction.atomic():
            row = _usage_row(namespace.id, lock=True)
            _notify_crossing(row, thresholds, usage, attempted_reject=True)
    except Exception:  # noqa: BLE001 - a failed notification must not hide the refusal itself
        pass
    return QuotaExceededError(
        f"Quota has been exceeded on namespace {namespace.name}: usage {usage} bytes + {incoming} new bytes would cross "
        f"the reject limit of {thresholds.reject_bytes} bytes ({thresholds.reject_percent}% of the {thresholds.limit_bytes}-byte quota)",
        detail={
            "namespace": namespace.name,
            "quota_bytes": thresholds.limit_bytes,
            "reject_bytes": thresholds.reject_bytes,
            "usage_bytes": usage,
            "incoming_bytes": incoming,
        },
    )


def _enforced_thresholds(repository: Repository) -> Thresholds | None:
    if not settings.MOORAGE["quotas"]["enforce"]:
        return None
    thresholds = thresholds_cached(repository.namespace_id, _thresholds)  # read on every chunk: no query when warm
    if thresholds is None or thresholds.reject_bytes is None:
        return None
    return thresholds


def _current_usage(namespace_id: int) -> int:
    row = NamespaceUsage.objects.filter(namespace_id=namespace_id).values_list("size_bytes", flat=True).first()
    return row if row is not None else _namespace_size(namespace_id)


# -- enforcement on the push path -----------------------------------------------------------------
def quota_check_upload(*, repository: Repository, incoming: int = 0) -> None:
    """Refuse an upload (start, chunk or completion) when the namespace's usage plus ``incoming``
    bytes of this upload crosses the Reject threshold. Raises QuotaExceededError."""
    thresholds = _enforced_thresholds(repository)
    if thresholds is None:
        return
    usage = _current_usage(repository.namespace_id)
    if usage >= thresholds.reject_bytes or (incoming and usage + incoming > thresholds.reject_bytes):
        raise _refuse(repository, thresholds, usage, incoming)


def quota_guard_chunks(*, repository: Repository, already: int, chunks: Iterable[bytes]) -> Iterable[bytes]:
    """``chunks`` unchanged, raising QuotaExceededError as soon as usage + ``already`` + the bytes
    streamed so far would cross the Reject threshold (before those bytes are written)."""
    thresholds = _enforced_thresholds(repository)
    if thresholds is None:
        return chunks
    usage = _current_usage(repository.namespace_id)
    if usage >= thresholds.reject_bytes or usage + already > thresholds.reject_bytes:
        raise _refuse(repository, thresholds, usage, already)
    return _guarded(repository, thresholds, usage, already, chunks)


def _guarded(repository: Repository, thresholds: Thresholds, usage: int, already: int, chunks: Iterable[bytes]) -> Iterator[bytes]:
    received = already
    assert thresholds.reject_bytes is not None
    for chunk in chunks:
        received += len(chunk)
        if usage + received > thresholds.reject_bytes:
            raise _refuse(repository, thresholds, usage, received)
        yield chunk


def _new_blob_sizes(repository: Repository, blob_ids: set[int]) -> tuple[int, int]:
    """Bytes of ``blob_ids`` not yet referenced in the namespace, and not yet in the repository."""
    if not blob_ids:
        return 0, 0
    in_namespace = set(
        ManifestBlob.objects.filter(
            repository__namespace_id=repository.namespace_id, repository__deleted_at__isnull=True, blob_id__in=blob_ids
        ).values_list("blob_id", flat=True)
    )
    in_repository = set(ManifestBlob.objects.filter(repository=repository, blob_id__in=blob_ids).values_list("blob_id", flat=True))
    sizes = dict(Blob.objects.filter(id__in=blob_ids).values_list("id", "size"))
    new_ns = sum(size for blob_id, size in sizes.items() if blob_id not in in_namespace)
    new_repo = sum(size for blob_id, size in sizes.items() if blob_id not in in_repository)
    return new_ns, new_repo


def quota_check_manifest(*, repository: Repository, blobs: Iterable[Blob]) -> None:
    """Refuse a manifest PUT whose blobs new to the namespace would cross the Reject threshold.
    Raises QuotaExceededError; nothing of the manifest is kept."""
    thresholds = _enforced_thresholds(repository)
    if thresholds is None:
        return
    new_ns, _new_repo = _new_blob_sizes(repository, {blob.pk for blob in blobs})
    if not new_ns:
        return
    usage = _current_usage(repository.namespace_id)
    if usage + new_ns > thresholds.reject_bytes:
        raise _refuse(repository, thresholds, usage, new_ns)


def usage_account_manifest(*, repository: Repository, blobs: Iterable[Blob]) -> int:
    """Inside the push transaction, before the manifest's blob links are written: lock the
    namespace's usage row, add the bytes of blobs new to the namespace and to the repository,
    and emit a threshold crossing. Returns the bytes added to the namespace.

    Raises QuotaExceededError when a concurrent push used the room meanwhile (re-checked under
    the lock). Lock order: the caller already holds the blob rows (as the collector does before
    it recomputes), then this row.
    """
    blob_ids = {blob.pk for blob in blobs}
    row = _usage_row(repository.namespace_id, lock=True)
    new_ns, new_repo = _new_blob_sizes(repository, blob_ids)
    thresholds = _thresholds(repository.namespace_id)
    enforced = thresholds if settings.MOORAGE["quotas"]["enforce"] and thresholds is not None and thresholds.reject_bytes is not None else None
    if new_ns and enforced is not None and row.size_bytes + new_ns > enforced.reject_bytes:
        raise QuotaExceededError(
            f"Quota has been exceeded on namespace {repository.namespace.name}",
            detail={"namespace": repository.namespace.name, "quota_bytes": enforced.limit_bytes, "usage_bytes": row.size_bytes, "incoming_bytes": new_ns},
        )
    if new_ns:
        NamespaceUsage.objects.filter(pk=row.pk).update(size_bytes=F("size_bytes") + new_ns, updated=timezone.now())
        row.size_bytes += new_ns
    if new_repo:
        updated = RepositoryUsage.objects.filter(repository=repository).update(size_bytes=F("size_bytes") + new_repo, updated=timezone.now())
        if not updated:
            RepositoryUsage.objects.create(repository=repository, size_bytes=_repository_size(repository.pk) + new_repo)
    if thresholds is not None:
        _notify_crossing(row, thresholds, row.size_bytes)
    return new_ns


# -- recomputation ---------------------------------------------------------------------------------
def namespace_usage_recompute(*, namespace_id: int) -> int:
    """Rebuild the namespace's usage (and its repositories') from the content tables; returns the
    namespace's size in bytes. Fixes drift; a drop below a threshold re-arms its notification."""
    with transaction.atomic():
        row = _usage_row(namespace_id, lock=True)
        size = _namespace_size(namespace_id)
        NamespaceUsage.objects.filter(pk=row.pk).update(size_bytes=size, recomputed_at=timezone.now(), updated=timezone.now())
        _notify_crossing(row, _thresholds(namespace_id), size, rearm=True)
        repository_ids = list(Repository.objects.filter(namespace_id=namespace_id).values_list("id", flat=True))
        existing = set(RepositoryUsage.objects.filter(repository_id__in=repository_ids).values_list("repository_id", flat=True))
        for repository_id in repository_ids:
            repo_size = _repository_size(repository_id)
            if repository_id in existing:
                RepositoryUsage.objects.filter(repository_id=repository_id).update(size_bytes=repo_size, updated=timezone.now())
            else:
                RepositoryUsage.objects.create(repository_id=repository_id, size_bytes=repo_size)
    return size


def usage_recompute_all() -> int:
    """Recompute every namespace that has repositories or a usage row; returns how many."""
    ids = set(Repository.objects.values_list("namespace_id", flat=True).distinct())
    ids |= set(NamespaceUsage.objects.values_list("namespace_id", flat=True))
    for namespace_id in sorted(ids):
        namespace_usage_recompute(namespace_id=namespace_id)
    return len(ids)


# -- configuration (the quota API) -----------------------------------------------------------------
def _require_editable() -> None:
    if not settings.MOORAGE["quotas"]["edit_enabled"]:
        raise DeniedError("quota editing is disabled on this registry")


def _rearm(namespace_id: int) -> None:
    """The thresholds changed: the next push or recomputation at or above one notifies again."""
    NamespaceUsage.objects.filter(namespace_id=namespace_id).update(notified_level=LEVEL_NONE)


def _validate_limit_bytes(limit_bytes: object) -> int:
    if not isinstance(limit_bytes, int) or isinstance(limit_bytes, bool) or limit_bytes <= 0:
        raise InvalidRequestError("limit_bytes must be a positive integer", detail={"limit_bytes": str(limit_bytes)[:40]})
    return limit_bytes


def quota_create(*, namespace: Namespace, limit_bytes: int, actor: Principal | None = None, request: RequestInfo | None = None) -> NamespaceQuota:
    """Give ``namespace`` its quota. Raises INVALID_REQUEST and CONFLICT (it already has one)."""
    _require_editable()
    limit_bytes = _validate_limit_bytes(limit_bytes)
    try:
        with transaction.atomic():
            quota = NamespaceQuota.objects.create(namespace=namespace, limit_bytes=limit_bytes)
            audit_log(kind="org_create_quota", principal=actor, namespace_name=namespace.name, request=request, metadata={"limit_bytes": limit_bytes})
    except IntegrityError:
        raise ConflictError("the namespace already has a quota", detail={"namespace": namespace.name}) from None
    return quota


def quota_change(*, quota: NamespaceQuota, limit_bytes: int, actor: Principal | None = None, request: RequestInfo | None = None) -> NamespaceQuota:
    _require_editable()
    limit_bytes = _validate_limit_bytes(limit_bytes)
    with transaction.atomic():
        previous = quota.limit_bytes
        quota.limit_bytes = limit_bytes
        quota.save(update_fields=["limit_bytes"])
        _rearm(quota.namespace_id)
        audit_log(
            kind="org_change_quota", principal=actor, namespace_name=quota.namespace.name, request=request,
            metadata={"limit_bytes": limit_bytes, "previous_limit_bytes": previous},
        )
    return quota


def quota_delete(*, quota: NamespaceQuota, actor: Principal | None = None, request: RequestInfo | None = None) -> None:
    _require_editable()
    with transaction.atomic():
        name = quota.namespace.name
        quota.delete()
        _rearm(quota.namespace_id)
        audit_log(kind="org_delete_quota", principal=actor, namespace_name=name, request=request, metadata={})


def _validate_limit(limit_type: object, percent: object) -> tuple[str, int]:
    if limit_type not in QuotaLimit.Type.values:
        raise InvalidRequestError("type must be Warning or Reject", detail={"type": str(limit_type)[:40]})
    if not isinstance(percent, int) or isinstance(percent, bool) or not 1 <= percent <= 100:
        raise InvalidRequestError("threshold_percent must be an integer from 1 to 100", detail={"threshold_percent": str(percent)[:40]})
    return str(limit_type), percent


def quota_limit_create(
    *, quota: NamespaceQuota, limit_type: str, threshold_percent: int, actor: Principal | None = None, request: RequestInfo | None = None
) -> QuotaLimit:
    """Add a Warning or Reject threshold. Raises INVALID_REQUEST and CONFLICT (the same one exists)."""
    _require_editable()
    limit_type, threshold_percent = _validate_limit(limit_type, threshold_percent)
    try:
        with transaction.atomic():
            limit = QuotaLimit.objects.create(quota=quota, type=limit_type, threshold_percent=threshold_percent)
            _rearm(quota.namespace_id)
            audit_log(
                kind="org_create_quota_limit", principal=actor, namespace_name=quota.namespace.name, request=request,
                metadata={"type": limit_type, "threshold_percent": threshold_percent},
            )
    except IntegrityError:
        raise ConflictError("this limit already exists", detail={"type": limit_type, "threshold_percent": threshold_percent}) from None
    return limit


def quota_limit_change(
    *, limit: QuotaLimit, limit_type: str | None = None, threshold_percent: int | None = None,
    actor: Principal | None = None, request: RequestInfo | None = None,
) -> QuotaLimit:
    _require_editable()
    new_type, new_percent = _validate_limit(limit_type or limit.type, threshold_percent if threshold_percent is not None else limit.threshold_percent)
    try:
        with transaction.atomic():
            limit.type, limit.threshold_percent = new_type, new_percent
            limit.save(update_fields=["type", "threshold_percent"])
            _rearm(limit.quota.namespace_id)
            audit_log(
                kind="org_change_quota_limit", principal=actor, namespace_name=limit.quota.namespace.name, request=request,
                metadata={"type": new_type, "threshold_percent": new_percent},
            )
    except IntegrityError:
        raise ConflictError("this limit already exists", detail={"type": new_type, "threshold_percent": new_percent}) from None
    return limit


def quota_limit_delete(*, limit: QuotaLimit, actor: Principal | None = None, request: RequestInfo | None = None) -> None:
    _require_editable()
    with transaction.atomic():
        audit_log(
            kind="org_delete_quota_limit", principal=actor, namespace_name=limit.quota.namespace.name, request=request,
            metadata={"type": limit.type, "threshold_percent": limit.threshold_percent},
        )
        _rearm(limit.quota.namespace_id)
        limit.delete()


def quota_find(*, namespace: Namespace, quota_id: str | int) -> NamespaceQuota:
    try:
        found = NamespaceQuota.objects.select_related("namespace").filter(namespace=namespace, pk=int(quota_id)).first()
    except (TypeError, ValueError):
        found = None
    if found is None:
        raise NotFoundError("quota not found", detail={"quota": str(quota_id)[:40]})
    return found


def quota_limit_find(*, quota: NamespaceQuota, limit_id: str | int) -> QuotaLimit:
    try:
        found = QuotaLimit.objects.select_related("quota__namespace").filter(quota=quota, pk=int(limit_id)).first()
    except (TypeError, ValueError):
        found = None
    if found is None:
        raise NotFoundError("quota limit not found", detail={"limit": str(limit_id)[:40]})
    return found
