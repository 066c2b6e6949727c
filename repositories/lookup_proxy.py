"""Whether a namespace is a pull-through cache, answered from Django's cache when it is not.

Every manifest GET/HEAD asks it (the proxy-cache hook of ``oci/views/manifests.py``); for the
usual answer — "no" — the database is asked once per namespace and the answer kept until a
proxy-cache configuration or a namespace is saved or deleted (signals below), or ``TTL_S`` passes.
Only the negative answer is cached: a configuration (with its encrypted upstream credentials)
is always read from the database.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts.models import Namespace
from common.cache_outage import CACHE_UNAVAILABLE, cache_unavailable
from repositories.lookup_invalidation import PREFIX
from repositories.models.proxy import ProxyCacheConfig

TTL_S = 300
NOT_A_PROXY = "none"


def proxy_key(namespace_name: str) -> str:
    """The cache key of the namespace's "not a proxy cache" answer (``NOT_A_PROXY`` when cached);
    ``lookup_cache.manifest_lookup_cached`` reads it in the same round trip as the manifest."""
    return f"{PREFIX}proxy:{namespace_name}"


def proxy_config_for_namespace_cached(*, namespace_name: str) -> ProxyCacheConfig | None:
    """The namespace's proxy-cache configuration, None when it is not one (no query when cached)."""
    key = proxy_key(namespace_name)
    try:
        if cache.get(key) == NOT_A_PROXY:
            return None
    except CACHE_UNAVAILABLE as exc:  # a miss: ask the database, store nothing
        cache_unavailable("proxy-cache lookup", exc)
        key = None
    config = ProxyCacheConfig.objects.select_related("organization__namespace").filter(organization__namespace__name=namespace_name).first()
    if config is None and key is not None:
        try:
            cache.set(key, NOT_A_PROXY, TTL_S)
        except CACHE_UNAVAILABLE as exc:
            cache_unavailable("proxy-cache lookup", exc)
    return config


@receiver(post_save, sender=ProxyCacheConfig, dispatch_uid="lookup_proxy.config_saved")
@receiver(post_delete, sender=ProxyCacheConfig, dispatch_uid="lookup_proxy.config_deleted")
def _config_changed(sender: Any, instance: ProxyCacheConfig, **kwargs: Any) -> None:
    namespace = Namespace.objects.filter(organization__pk=instance.organization_id).values_list("name", flat=True).first()
    if namespace:
        _forget(namespace)


@receiver(post_save, sender=Namespace, dispatch_uid="lookup_proxy.namespace_saved")
@receiver(post_delete, sender=Namespace, dispatch_uid="lookup_proxy.namespace_deleted")
def _namespace_changed(sender: Any, instance: Namespace, **kwargs: Any) -> None:
    _forget(instance.name)  # a rename may give a proxy cache a name cached as "not one"


def _forget(namespace_name: str) -> None:
    """Now, and again at commit (a reader during the transaction may have cached the old answer)."""
    cache.delete(proxy_key(namespace_name))
    transaction.on_commit(lambda: cache.delete(proxy_key(namespace_name)))
