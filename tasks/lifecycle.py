"""Tag lifecycle: thin wrappers over repositories.services.lifecycle."""

from celery import shared_task

from repositories.services.lifecycle import autoprune_run, tags_expire


@shared_task(name="registry.tags.expire")
def expire_tags() -> int:
    """End the lifetime of live tags whose expiry passed (idempotent); returns how many."""
    return tags_expire()


@shared_task(name="registry.tags.autoprune")
def autoprune(namespace_id: int | None = None, repository_id: int | None = None) -> dict:
    """Apply the auto-prune policies (all, one namespace's or one repository's); idempotent."""
    report = autoprune_run(namespace_id=namespace_id, repository_id=repository_id)
    return {"repositories": report.repositories, "policies": report.policies, "pruned": len(report.pruned)}
