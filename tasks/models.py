"""What the workers did: the last run of every task, for the admin dashboard."""

from __future__ import annotations

from django.db import models


class TaskRun(models.Model):
    """The latest run of one Celery task (by name), with running totals."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        RETRYING = "retrying", "Retrying"

    name = models.CharField(max_length=128, unique=True)
    last_started = models.DateTimeField(null=True, blank=True)
    last_finished = models.DateTimeField(null=True, blank=True)
    last_status = models.CharField(max_length=16, choices=Status.choices, blank=True, default="")
    last_duration_s = models.FloatField(null=True, blank=True)
    #: the exception of the last failure (cleared by the next success)
    last_error = models.TextField(blank=True, default="")
    #: a short text form of the last successful result (counts, ids)
    last_result = models.TextField(blank=True, default="")
    runs = models.BigIntegerField(default=0)
    failures = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["name"]
        verbose_name = "background task"

    def __str__(self) -> str:
        return self.name
