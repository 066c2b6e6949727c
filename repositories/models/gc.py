"""Garbage-collection runs, kept for the admin, the metrics and the audit trail."""

from __future__ import annotations

from django.db import models

__all__ = ["GcRun"]


class GcRun(models.Model):
    """One pass of the garbage collector: what it examined, deleted and reclaimed."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        PERIODIC = "periodic", "Periodic (worker)"
        COMMAND = "command", "manage.py gc"
        ADMIN = "admin", "Admin action"
        PURGE = "purge", "Repository or namespace purge"

    started = models.DateTimeField(db_index=True)
    finished = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.PERIODIC)
    dry_run = models.BooleanField(default=False)
    #: ``namespace/name`` when the run was limited to one repository, else empty (whole registry)
    scope = models.CharField(max_length=255, blank=True, default="")
    tags_examined = models.BigIntegerField(default=0)
    tags_deleted = models.BigIntegerField(default=0)
    manifests_examined = models.BigIntegerField(default=0)
    manifests_deleted = models.BigIntegerField(default=0)
    blobs_examined = models.BigIntegerField(default=0)
    blobs_deleted = models.BigIntegerField(default=0)
    uploads_deleted = models.BigIntegerField(default=0)
    bytes_reclaimed = models.BigIntegerField(default=0)
    #: storage errors met on the way (the affected items are retried by the next run)
    errors = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-started", "-id"]
        verbose_name = "garbage collection run"

    @property
    def duration_s(self) -> float | None:
        return (self.finished - self.started).total_seconds() if self.finished else None

    def __str__(self) -> str:
        return f"GC {self.started:%Y-%m-%d %H:%M:%S} {self.status}"
