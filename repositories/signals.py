"""Domain signals; ``tasks.receivers`` turns them into queued work after commit."""

from django.dispatch import Signal

#: sent with ``repository_id``, ``manifest_id``, ``digest`` and ``tags`` after a manifest push commits
manifest_pushed = Signal()
#: sent with ``repository_id`` and ``digest`` after a manifest is deleted
manifest_deleted = Signal()
#: sent with ``repository_id`` and its former ``namespace_id`` after a repository was marked
#: deleted (hidden; its purge is queued)
repository_deleted = Signal()
#: sent with ``mirror_id`` after a sync was requested (sync-now) and committed (an organization
#: mirror's: ``mirror_id=None, org_mirror_id``; the receiver runs the scheduler, which queues both)
mirror_sync_requested = Signal()
#: sent with ``export_id`` (a string) after an audit-log export was requested and committed
log_export_requested = Signal()
#: sent with ``build_id`` after a build request (API, trigger start or webhook) committed
build_queued = Signal()
#: sent with ``delivery_ids`` after notification deliveries were created outside an event (the
#: "test" action) and committed
notification_deliveries_created = Signal()
#: sent with ``import_id`` (a ``VulnerabilityImport`` id) and ``changed`` (records added, updated
#: or withdrawn; 0 when nothing changed) after a vulnerability database import succeeded and
#: committed; indexed manifests are re-matched from it
vulnerability_database_updated = Signal()

#: sent after commit with ``event`` (a notification event name: ``repo_push``,
#: ``repo_image_expiry``, ``vulnerability_found``, ``repo_mirror_sync_*``, ``quota_warning``,
#: ``quota_error``, ...), ``namespace_id``, ``repository_id`` (None for namespace-wide events)
#: and ``payload`` (a JSON-able dict in Quay's event-data shape)
registry_event = Signal()


def emit_registry_event(event: str, *, namespace_id: int, repository_id: int | None = None, payload: dict) -> None:
    """Announce ``event`` once the current transaction commits (at once outside one)."""
    from django.db import transaction

    transaction.on_commit(
        lambda: registry_event.send(
            sender=None, event=event, namespace_id=namespace_id, repository_id=repository_id, payload=payload
        )
    )
