"""Reads of repository mirrors."""

from __future__ import annotations

from django.db.models import QuerySet

from repositories.models import Repository
from repositories.models.mirror import RepositoryMirror


def mirror_of(*, repository: Repository) -> RepositoryMirror | None:
    """The repository's mirror configuration, with its robot, or None."""
    return RepositoryMirror.objects.select_related("repository__namespace", "robot__namespace").filter(repository=repository).first()


def mirror_by_repository_name(*, full_name: str) -> RepositoryMirror | None:
    return RepositoryMirror.objects.select_related("repository__namespace", "robot__namespace").filter(repository__full_name=full_name).first()


def mirrors_listing() -> QuerySet[RepositoryMirror]:
    """Every mirror of a live repository, with what the admin list shows, in one query."""
    return RepositoryMirror.objects.filter(repository__deleted_at__isnull=True).select_related("repository__namespace", "robot__namespace")
