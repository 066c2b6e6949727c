"""Receivers of lower layers' signals (accounts, organizations), connected in RepositoriesConfig.ready."""

from __future__ import annotations

from django.dispatch import receiver

from accounts.models import Namespace
from accounts.signals import namespace_deleting
from repositories.services.repositories import namespace_repositories_delete


@receiver(namespace_deleting, dispatch_uid="repositories.hide_namespace_repositories")
def _hide_repositories_of_deleted_namespace(sender, namespace: Namespace, **kwargs) -> None:  # noqa: ANN001
    namespace_repositories_delete(namespace=namespace, actor=None)
