"""Task modules and the Celery beat schedule, by task name."""

from celery.schedules import crontab

TASK_MODULES = ("tasks.uploads", "tasks.identity", "tasks.gc", "tasks.notifications", "tasks.storage", "tasks.logs", "tasks.stats", "tasks.lifecycle", "tasks.quotas", "tasks.mirror", "tasks.builds", "tasks.security")

BEAT_SCHEDULE = {
    "remove-stale-uploads": {"task": "registry.uploads.remove_stale", "schedule": crontab(minute=17)},
    "rotate-signing-keys": {"task": "registry.identity.rotate_signing_keys", "schedule": crontab(minute="*/10")},
    "garbage-collect": {"task": "registry.gc.collect", "schedule": crontab(minute="*/5")},
    "purge-deleted-repositories": {"task": "registry.gc.purge_pending", "schedule": crontab(minute=41)},
    "notify-expiring-tags": {"task": "registry.notifications.expiry_scan", "schedule": crontab(minute="*/15")},
    "requeue-overdue-notifications": {"task": "registry.notifications.requeue_overdue", "schedule": crontab(minute="*/5")},
    "prune-notification-log": {"task": "registry.notifications.prune_log", "schedule": crontab(minute=23, hour=3)},
    "replicate-missing-blobs": {"task": "registry.storage.replicate_missing", "schedule": crontab(minute="*/15")},
    "remove-upload-orphans": {"task": "registry.storage.remove_upload_orphans", "schedule": crontab(minute=23)},
    "rotate-audit-logs": {"task": "registry.logs.rotate", "schedule": crontab(minute=7, hour="*/12")},
    "flush-pull-statistics": {"task": "registry.stats.flush_pulls", "schedule": crontab(minute="*")},
    "drain-audit-buffer": {"task": "registry.logs.drain_audit_buffer", "schedule": 10.0},
    "expire-tags": {"task": "registry.tags.expire", "schedule": crontab(minute="*")},
    "autoprune-tags": {"task": "registry.tags.autoprune", "schedule": crontab(minute="*/30")},
    "recompute-quota-usage": {"task": "registry.quota.recompute", "schedule": crontab(minute=53)},
    "queue-due-mirror-syncs": {"task": "registry.mirror.schedule_due", "schedule": 30.0},
    "sweep-scan-queue": {"task": "registry.scan.sweep", "schedule": 30.0},
    "archive-build-logs": {"task": "registry.builds.archive_logs", "schedule": 30.0},
    "requeue-waiting-builds": {"task": "registry.builds.requeue_waiting", "schedule": crontab(minute="*/5")},
}
