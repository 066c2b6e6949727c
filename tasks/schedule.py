"""Task modules and the Celery beat schedule, by task name."""

from celery.schedules import crontab

TASK_MODULES = ("tasks.uploads", "tasks.identity", "tasks.gc")

BEAT_SCHEDULE = {
    "remove-stale-uploads": {"task": "registry.uploads.remove_stale", "schedule": crontab(minute=17)},
    "rotate-signing-keys": {"task": "registry.identity.rotate_signing_keys", "schedule": crontab(minute="*/10")},
    "garbage-collect": {"task": "registry.gc.collect", "schedule": crontab(minute="*/5")},
    "purge-deleted-repositories": {"task": "registry.gc.purge_pending", "schedule": crontab(minute=41)},
}
