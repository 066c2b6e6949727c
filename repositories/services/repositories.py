"""Repository writes."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.services import namespace_get_or_create
from common.grammar import split_repository_name
from repositories.models import Repository


def canonical_name(name: str) -> str:
    """``busybox`` -> ``library/busybox``; raises NAME_INVALID for a bad name."""
    namespace, path = split_repository_name(name)
    return f"{namespace}/{path}"


def repository_get_or_create(*, name: str) -> Repository:
    """The repository called ``name``, created (private) when missing. Safe when two pushes race."""
    namespace_name, path = split_repository_name(name)
    full_name = f"{namespace_name}/{path}"
    repository = Repository.objects.select_related("namespace").filter(full_name=full_name).first()
    if repository is not None:
        return repository
    namespace = namespace_get_or_create(name=namespace_name)
    try:
        with transaction.atomic():
            return Repository.objects.create(namespace=namespace, name=path, full_name=full_name)
    except IntegrityError:
        return Repository.objects.select_related("namespace").get(full_name=full_name)


def repository_touch(*, repository: Repository) -> None:
    Repository.objects.filter(pk=repository.pk).update(last_modified=timezone.now())
