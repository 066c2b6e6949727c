"""The background tasks page: the last run, duration and outcome of every Celery task."""

from __future__ import annotations

from django.contrib import admin

from accounts.admin import ConsoleModelAdmin, ReadOnlyMixin
from tasks.models import TaskRun


@admin.register(TaskRun)
class TaskRunAdmin(ReadOnlyMixin, ConsoleModelAdmin):
    """Written by the workers (tasks.run_records) on every task run."""

    list_display = ("name", "last_status", "last_started", "duration", "runs", "failures")
    list_filter = ("last_status",)
    search_fields = ("name",)
    ordering = ("name",)
    fields = ("name", "last_status", "last_started", "last_finished", "duration", "runs", "failures", "last_result", "last_error")
    readonly_fields = fields

    @admin.display(description="last duration", ordering="last_duration_s")
    def duration(self, run: TaskRun) -> str:
        return "—" if run.last_duration_s is None else f"{run.last_duration_s:.2f} s"
