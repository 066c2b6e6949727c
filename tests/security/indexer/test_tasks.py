"""The Celery tasks of scanning, run as the worker runs them (their real functions), and the
receivers that queue scans after a push and re-matches after a database import."""

from __future__ import annotations

from repositories.models import ManifestScan
from repositories.signals import vulnerability_database_updated
from tasks.security import queue_and_scan, rematch_all, scan_manifest, sweep
from tests.security.indexer.conftest import push
from tests.security.indexer.helpers import layer

NPM_LAYER = layer({"srv/node_modules/left-pad/package.json": b'{"name":"left-pad","version":"1.3.0"}'})


def test_the_tasks_route_to_the_scan_queue(settings):
    from celery import current_app

    for task in (scan_manifest, queue_and_scan, sweep, rematch_all):
        route = current_app.amqp.router.route({}, task.name)
        assert route["queue"].name == "scan", task.name


def test_queue_and_scan_then_the_sweep_has_nothing_left(repository):
    pushed = push(repository, "v1", [NPM_LAYER])
    ManifestScan.objects.filter(manifest=pushed.manifest).delete()
    assert queue_and_scan(pushed.manifest.id) == "scanned"
    assert scan_manifest(pushed.manifest.id) == "scanned"  # idempotent
    report = sweep()
    assert pushed.manifest.id not in report["due"]


def test_the_sweep_task_queues_a_manifest_pushed_without_a_scan(repository):
    pushed = push(repository, "v1", [NPM_LAYER])
    ManifestScan.objects.filter(manifest=pushed.manifest).delete()
    report = sweep()
    assert report["queued_new"] >= 1 and pushed.manifest.id in report["due"]
    assert ManifestScan.objects.get(manifest=pushed.manifest).status == "queued"


def test_rematch_all_task_and_the_import_signal(repository):
    pushed = push(repository, "v1", [NPM_LAYER])
    queue_and_scan(pushed.manifest.id)
    assert rematch_all()["manifests"] == 1
    vulnerability_database_updated.send(sender=None, import_id=1, changed=1)  # the receiver queues the task
