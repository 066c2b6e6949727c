"""Record the start, end, duration and outcome of every Celery task run (``TaskRun``).

Hooked to Celery's own signals, so every task is covered without decorating it. A failure to
record never fails the task.
"""

from __future__ import annotations

import logging
import time

from celery import signals
from django.db import DatabaseError
from django.db.models import F
from django.utils import timezone

from tasks.models import TaskRun

logger = logging.getLogger(__name__)
_started: dict[str, float] = {}


def _update(name: str, **fields) -> None:  # noqa: ANN003
    try:
        updated = TaskRun.objects.filter(name=name).update(**fields)
        if not updated:
            TaskRun.objects.get_or_create(name=name)
            TaskRun.objects.filter(name=name).update(**fields)
    except DatabaseError:
        logger.warning("could not record the run of %s", name, exc_info=True)


@signals.task_prerun.connect(dispatch_uid="moorage.task_run.start")
def _task_started(task_id: str, task, **kwargs) -> None:  # noqa: ANN001
    _started[task_id] = time.monotonic()
    _update(task.name, last_started=timezone.now(), last_status=TaskRun.Status.RUNNING, runs=F("runs") + 1)


@signals.task_postrun.connect(dispatch_uid="moorage.task_run.end")
def _task_finished(task_id: str, task, retval=None, state: str = "", **kwargs) -> None:  # noqa: ANN001
    began = _started.pop(task_id, None)
    duration = time.monotonic() - began if began is not None else None
    fields = {"last_finished": timezone.now(), "last_duration_s": duration}
    if state == "SUCCESS":
        fields.update(last_status=TaskRun.Status.SUCCEEDED, last_error="", last_result=repr(retval)[:2000])
    elif state == "RETRY":
        fields.update(last_status=TaskRun.Status.RETRYING, last_error=repr(retval)[:2000])
    else:
        fields.update(last_status=TaskRun.Status.FAILED, last_error=repr(retval)[:2000], failures=F("failures") + 1)
    _update(task.name, **fields)
