"""Repository and organization mirroring: thin wrappers over repositories.services.mirror and
repositories.services.mirror_org (queue ``mirror``)."""

from __future__ import annotations

import logging

from celery import shared_task

from repositories.services.mirror import mirror_sync, mirrors_queue_due
from repositories.services.mirror_org import org_mirror_sync, org_mirrors_queue_due

logger = logging.getLogger(__name__)


@shared_task(name="registry.mirror.sync")
def sync(mirror_id: int) -> str | None:
    """Run a sync the scheduler queued (idempotent: a sync already running, done by another
    worker or cancelled meanwhile is skipped). Returns the final status."""
    result = mirror_sync(mirror_id=mirror_id, scheduled=True)
    return result.status if result is not None else None


@shared_task(name="registry.mirror.schedule_due")
def schedule_due() -> int:
    """Periodic: queue a sync of every repository mirror and organization mirror that is due
    (requested, scheduled, or whose last worker died); each is marked queued first, so it is
    never queued twice."""
    queued = 0
    for mirror_id in mirrors_queue_due():
        try:
            sync.delay(mirror_id)
            queued += 1
        except Exception:  # noqa: BLE001 - a broker error: the mark expires and the next run retries
            logger.exception("could not queue the sync of mirror %s", mirror_id)
    for org_mirror_id in org_mirrors_queue_due():
        try:
            sync_organization.delay(org_mirror_id)
            queued += 1
        except Exception:  # noqa: BLE001 - as above
            logger.exception("could not queue the sync of organization mirror %s", org_mirror_id)
    return queued


@shared_task(name="registry.mirror.sync_organization")
def sync_organization(org_mirror_id: int) -> str | None:
    """Run an organization mirror's sync the scheduler queued (discovery, then each repository);
    idempotent like ``sync``. Returns the final status."""
    result = org_mirror_sync(org_mirror_id=org_mirror_id, scheduled=True)
    return result.status if result is not None else None
