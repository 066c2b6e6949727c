"""Reads of repository and organization mirrors, and the mirror health summary."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count, QuerySet
from django.utils import timezone

from accounts.principals import Principal
from organizations.models import Organization, Team
from organizations.selectors import organization_role_of
from repositories.models import Repository
from repositories.models.mirror import MirrorStatus, OrganizationMirror, OrganizationMirrorRepository, RepositoryMirror


def mirror_of(*, repository: Repository) -> RepositoryMirror | None:
    """The repository's mirror configuration, with its robot, or None."""
    return RepositoryMirror.objects.select_related("repository__namespace", "robot__namespace").filter(repository=repository).first()


def mirror_by_repository_name(*, full_name: str) -> RepositoryMirror | None:
    return RepositoryMirror.objects.select_related("repository__namespace", "robot__namespace").filter(repository__full_name=full_name).first()


def mirrors_listing() -> QuerySet[RepositoryMirror]:
    """Every mirror of a live repository, with what the admin list shows, in one query."""
    return RepositoryMirror.objects.filter(repository__deleted_at__isnull=True).select_related("repository__namespace", "robot__namespace")


# --- organization mirrors -----------------------------------------------------------------------


def org_mirror_of(*, organization: Organization) -> OrganizationMirror | None:
    """The organization's mirror configuration, with its robot, or None."""
    return OrganizationMirror.objects.select_related("organization__namespace", "robot__namespace").filter(organization=organization).first()


def org_mirror_by_name(*, name: str) -> OrganizationMirror | None:
    return OrganizationMirror.objects.select_related("organization__namespace", "robot__namespace").filter(organization__namespace__name=name).first()


def org_mirrors_listing() -> QuerySet[OrganizationMirror]:
    """Every organization mirror with what the admin list shows (its repository count) in one query."""
    return OrganizationMirror.objects.select_related("organization__namespace", "robot__namespace").annotate(discovered_count=Count("discovered"))


def org_mirror_repositories_page(
    *, org_mirror: OrganizationMirror, page: int, limit: int, status: str | None = None
) -> tuple[list[OrganizationMirrorRepository], int]:
    """One page of the discovered repositories (by upstream name) and the total, in two queries."""
    rows = OrganizationMirrorRepository.objects.filter(org_mirror=org_mirror)
    if status:
        rows = rows.filter(status=status)
    total = rows.count()
    return list(rows.select_related("repository").order_by("upstream_name")[(page - 1) * limit : page * limit]), total


# --- mirror health (Quay's /repository/mirror/health) -------------------------------------------

#: a mirror whose next sync is this late (and not running) counts as overdue
OVERDUE_AFTER = timedelta(minutes=10)


def _administered_namespace_ids(principal: Principal, candidates: set[int]) -> set[int]:
    if principal.is_superuser or principal.is_readonly_superuser:
        return candidates
    allowed = set()
    for namespace_id in candidates:
        if principal.kind == "user" and principal.namespace_id == namespace_id:
            allowed.add(namespace_id)
        elif principal.kind == "user" and organization_role_of(principal, namespace_id=namespace_id) == Team.TeamRole.ADMIN:
            allowed.add(namespace_id)
    return allowed


def mirror_health(*, principal: Principal, namespace: str | None = None, detailed: bool = False) -> dict[str, Any]:
    """Per namespace the caller administers (every one for superusers): how many repository
    mirrors, by status, how many fail, run or are overdue, the organization mirror's status, and
    ``healthy`` (nothing failing or overdue). ``detailed`` lists each mirror."""
    now = timezone.now()
    mirrors = RepositoryMirror.objects.filter(repository__deleted_at__isnull=True).select_related("repository__namespace")
    org_mirrors = OrganizationMirror.objects.select_related("organization__namespace")
    if namespace:
        mirrors = mirrors.filter(repository__namespace__name=namespace)
        org_mirrors = org_mirrors.filter(organization__namespace__name=namespace)
    candidates = set(mirrors.values_list("repository__namespace_id", flat=True)) | set(org_mirrors.values_list("organization__namespace_id", flat=True))
    allowed = _administered_namespace_ids(principal, candidates)
    by_namespace: dict[int, dict[str, Any]] = {}

    def bucket(namespace_id: int, name: str) -> dict[str, Any]:
        return by_namespace.setdefault(namespace_id, {
            "namespace": name, "total": 0, "enabled": 0, "by_status": {}, "failing": 0, "syncing": 0, "overdue": 0,
            "last_sync_end": None, "organization_mirror": None, **({"mirrors": []} if detailed else {}),
        })

    for mirror in mirrors.filter(repository__namespace_id__in=allowed).order_by("repository__full_name"):
        entry = bucket(mirror.repository.namespace_id, mirror.repository.namespace.name)
        entry["total"] += 1
        entry["enabled"] += int(mirror.is_enabled)
        entry["by_status"][mirror.status] = entry["by_status"].get(mirror.status, 0) + 1
        overdue = mirror.is_enabled and mirror.status != MirrorStatus.SYNCING and mirror.next_sync_at is not None and mirror.next_sync_at < now - OVERDUE_AFTER
        entry["failing"] += int(mirror.is_enabled and mirror.status == MirrorStatus.FAIL)
        entry["syncing"] += int(mirror.status == MirrorStatus.SYNCING)
        entry["overdue"] += int(overdue)
        if mirror.last_sync_finished_at and (entry["last_sync_end"] is None or mirror.last_sync_finished_at.isoformat() > entry["last_sync_end"]):
            entry["last_sync_end"] = mirror.last_sync_finished_at.isoformat()
        if detailed:
            entry["mirrors"].append({
                "repository": mirror.repository.full_name, "external_reference": mirror.external_reference, "is_enabled": mirror.is_enabled,
                "sync_status": mirror.status, "overdue": overdue,
                "last_sync_end": mirror.last_sync_finished_at.isoformat() if mirror.last_sync_finished_at else None,
                "next_sync_date": mirror.next_sync_at.isoformat() if mirror.next_sync_at else None, "last_error": mirror.last_error,
            })
    for org_mirror in org_mirrors.filter(organization__namespace_id__in=allowed):
        entry = bucket(org_mirror.organization.namespace_id, org_mirror.organization.name)
        entry["organization_mirror"] = {"sync_status": org_mirror.status, "is_enabled": org_mirror.is_enabled, "last_error": org_mirror.last_error}
        entry["failing"] += int(org_mirror.is_enabled and org_mirror.status == MirrorStatus.FAIL)
    namespaces = sorted(by_namespace.values(), key=lambda item: item["namespace"])
    for entry in namespaces:
        entry["healthy"] = entry["failing"] == 0 and entry["overdue"] == 0
    return {"healthy": all(entry["healthy"] for entry in namespaces), "namespaces": namespaces}
