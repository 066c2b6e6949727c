"""Quota usage: thin wrappers over repositories.services.quotas."""

from celery import shared_task

from repositories.services.quotas import namespace_usage_recompute, usage_recompute_all


@shared_task(name="registry.quota.recompute")
def recompute(namespace_id: int | None = None) -> int:
    """Recompute deduplicated usage from the content tables (one namespace, or every one) to
    correct drift of the incremental accounting; idempotent. Returns bytes (one) or namespaces (all)."""
    if namespace_id is not None:
        return namespace_usage_recompute(namespace_id=namespace_id)
    return usage_recompute_all()
