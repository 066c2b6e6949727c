"""Image builds: thin wrappers over repositories.services.build_runner / builds / build_logs
(queue ``builds``)."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_shutting_down

from repositories.services.build_logs import build_logs_archive_due
from repositories.services.build_runner import build_processes_stop, build_run
from repositories.services.builds import builds_fail_stale, builds_waiting_overdue, filedrops_remove_expired

logger = logging.getLogger(__name__)


@shared_task(name="registry.builds.run")
def run(build_id: int) -> str | None:
    """Run one queued build (idempotent: a build another worker claimed, or one cancelled or
    finished meanwhile, is skipped). Returns the final phase."""
    return build_run(build_id=build_id)


@shared_task(name="registry.builds.archive_logs")
def archive_logs() -> int:
    """Periodic (Quay's buildlogsarchiver): move finished builds' logs into storage; also drops
    expired file-drop uploads."""
    archived = build_logs_archive_due()
    filedrops_remove_expired()
    return archived


@shared_task(name="registry.builds.requeue_waiting")
def requeue_waiting() -> int:
    """Periodic: queue again builds still waiting long after their request (a lost task), and end
    builds whose worker died."""
    builds_fail_stale()
    queued = 0
    for build_id in builds_waiting_overdue():
        try:
            run.delay(build_id)
            queued += 1
        except Exception:  # noqa: BLE001 - a broker error: the next run retries
            logger.exception("could not queue build %s", build_id)
    return queued


@worker_shutting_down.connect
def _stop_running_builds(**kwargs) -> None:  # noqa: ANN003
    """buildah runs in its own session (so a cancel can kill its whole process group): stop it
    when the worker stops, or it would outlive the worker."""
    stopped = build_processes_stop()
    if stopped:
        logger.warning("worker shutting down: stopped %s running build step(s)", stopped)
