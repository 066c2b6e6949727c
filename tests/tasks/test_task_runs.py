"""Every Celery task run is recorded (TaskRun): start, end, duration, outcome, totals."""

from __future__ import annotations

import pytest

from tasks.gc import collect, purge_repository
from tasks.models import TaskRun

pytestmark = pytest.mark.django_db


def test_a_successful_run_is_recorded_with_its_duration_and_result(storage):
    collect.apply()
    collect.apply()
    run = TaskRun.objects.get(name="registry.gc.collect")
    assert run.last_status == "succeeded" and run.runs == 2 and run.failures == 0
    assert run.last_started <= run.last_finished and run.last_duration_s >= 0
    assert "manifests_deleted" in run.last_result and run.last_error == ""


def test_a_failed_run_is_counted_and_keeps_its_error():
    purge_repository.apply(args=("not an id",))
    run = TaskRun.objects.get(name="registry.gc.purge_repository")
    assert run.last_status == "failed" and run.failures == 1
    assert "not an id" in run.last_error or "invalid" in run.last_error.lower()


@pytest.mark.parametrize(
    ("task", "queue"),
    [
        ("registry.gc.collect", "gc"),
        ("registry.gc.purge_repository", "gc"),
        ("registry.notifications.deliver", "notifications"),
        ("registry.storage.replicate_missing", "replication"),
        ("registry.uploads.remove_stale", "default"),
    ],
)
def test_each_kind_of_work_has_its_own_queue(task, queue):
    from registry_site.celery import app

    route = app.amqp.router.route({}, task, args=(), kwargs={})
    assert route["queue"].name == queue


def test_every_scheduled_task_exists():
    from registry_site.celery import app
    from tasks.schedule import BEAT_SCHEDULE

    app.loader.import_default_modules()
    assert {entry["task"] for entry in BEAT_SCHEDULE.values()} <= set(app.tasks)
