"""Reads of storage usage and quotas, for the admin and the APIs."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Sum

from repositories.models import Blob, ManifestBlob
from repositories.models.lifecycle import NamespaceQuota, NamespaceUsage, QuotaLimit, RepositoryUsage


@dataclass(frozen=True)
class Usage:
    """Deduplicated bytes in use, with the namespace's quota (None without one)."""

    size_bytes: int
    quota_bytes: int | None
    warning_percent: int | None
    reject_percent: int | None
    recomputed_at: object = None

    @property
    def percent(self) -> float | None:
        return round(self.size_bytes * 100 / self.quota_bytes, 2) if self.quota_bytes else None


def _quota_of(namespace_id: int) -> tuple[int | None, int | None, int | None]:
    quota = NamespaceQuota.objects.filter(namespace_id=namespace_id).prefetch_related("limits").first()
    if quota is None:
        return None, None, None
    warning = [limit.threshold_percent for limit in quota.limits.all() if limit.type == QuotaLimit.Type.WARNING]
    reject = [limit.threshold_percent for limit in quota.limits.all() if limit.type == QuotaLimit.Type.REJECT]
    return quota.limit_bytes, min(warning) if warning else None, min(reject) if reject else None


def namespace_usage(*, namespace_id: int) -> Usage:
    """The cached usage of a namespace (computed from the content tables when there is no row yet)."""
    row = NamespaceUsage.objects.filter(namespace_id=namespace_id).first()
    if row is not None:
        size, recomputed = row.size_bytes, row.recomputed_at
    else:
        ids = ManifestBlob.objects.filter(repository__namespace_id=namespace_id, repository__deleted_at__isnull=True).values("blob_id")
        size, recomputed = Blob.objects.filter(id__in=ids).aggregate(total=Sum("size"))["total"] or 0, None
    quota, warning, reject = _quota_of(namespace_id)
    return Usage(size_bytes=size, quota_bytes=quota, warning_percent=warning, reject_percent=reject, recomputed_at=recomputed)


def repository_usage(*, repository_id: int) -> int:
    """The cached deduplicated bytes of one repository (computed when there is no row yet)."""
    row = RepositoryUsage.objects.filter(repository_id=repository_id).values_list("size_bytes", flat=True).first()
    if row is not None:
        return row
    ids = ManifestBlob.objects.filter(repository_id=repository_id).values("blob_id")
    return Blob.objects.filter(id__in=ids).aggregate(total=Sum("size"))["total"] or 0


def namespace_size_computed(*, namespace_id: int) -> int:
    """Deduplicated bytes of the namespace's live repositories, computed from the content tables
    (what ``namespace_usage_recompute`` would store; ``fsck`` compares it with the cached row)."""
    ids = ManifestBlob.objects.filter(repository__namespace_id=namespace_id, repository__deleted_at__isnull=True).values("blob_id")
    return Blob.objects.filter(id__in=ids).aggregate(total=Sum("size"))["total"] or 0


def repository_size_computed(*, repository_id: int) -> int:
    """Deduplicated bytes of one repository, computed from the content tables."""
    ids = ManifestBlob.objects.filter(repository_id=repository_id).values("blob_id")
    return Blob.objects.filter(id__in=ids).aggregate(total=Sum("size"))["total"] or 0
