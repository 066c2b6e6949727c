"""``manage.py registry_stats``: the admin dashboard's figures for people and scripts."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from common.units import size_text
from repositories.selectors_dashboard import Dashboard, dashboard


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def as_json(data: Dashboard) -> dict[str, Any]:
    """The figures as plain JSON types (sizes in bytes, times in ISO 8601)."""
    t = data.totals
    last_gc = data.gc.runs[0] if data.gc.runs else None
    return {
        "generated_at": _when(data.generated_at),
        "repositories": t.repositories,
        "tags": t.tags,
        "manifests": t.manifests,
        "blobs": t.blobs,
        "bytes": t.bytes,
        "uploads_in_progress": t.uploads_in_progress,
        "upload_bytes_in_progress": t.upload_bytes_in_progress,
        "growth": [{"date": day.day.isoformat(), "blobs_added": day.values["blobs"], "bytes_added": day.values["bytes"],
                    "size_at_end": day.values["size"]} for day in data.growth],
        "activity": [{"date": day.day.isoformat(), "pushes": day.values["pushes"], "pulls": day.values["pulls"]} for day in data.activity],
        "namespaces": [
            {"name": ns.name, "kind": ns.kind, "repositories": ns.repositories, "size_bytes": ns.size_bytes, "quota_bytes": ns.quota_bytes,
             "quota_percent": ns.percent}
            for ns in data.namespaces
        ],
        "gc": {
            "last_run": None if last_gc is None else {
                "started": _when(last_gc.started), "finished": _when(last_gc.finished), "status": last_gc.status, "trigger": last_gc.trigger,
                "dry_run": last_gc.dry_run, "scope": last_gc.scope, "bytes_reclaimed": last_gc.bytes_reclaimed,
                "blobs_deleted": last_gc.blobs_deleted, "manifests_deleted": last_gc.manifests_deleted, "tags_deleted": last_gc.tags_deleted,
                "errors": len(last_gc.errors or []),
            },
            "runs_30d": data.gc.runs_30d, "failed_30d": data.gc.failed_30d, "bytes_reclaimed_30d": data.gc.bytes_reclaimed_30d,
        },
        "queues": {"broker": data.queues.broker, "depths": data.queues.depths, "error": data.queues.error or None},
        "periodic_tasks": [
            {"entry": p.entry, "task": p.task, "schedule": p.schedule, "last_started": _when(p.last_started), "last_status": p.last_status or None,
             "last_duration_s": p.last_duration_s, "runs": p.runs, "failures": p.failures}
            for p in data.periodic
        ],
        "vulnerability_database": {"available": data.vulnerability_db.available, "imported_at": _when(data.vulnerability_db.imported_at),
                                   "text": data.vulnerability_db.text},
        "read_only": {"effective": data.read_only.effective, "config": data.read_only.config, "runtime": data.read_only.runtime,
                      "reason": data.read_only.reason, "changed_at": _when(data.read_only.changed_at), "changed_by": data.read_only.changed_by},
    }


class Command(BaseCommand):
    help = (
        "Print the registry's figures (the admin dashboard's): repositories, tags, manifests, blobs and bytes stored, "
        "storage per namespace, uploads in progress, pushes and pulls over 30 days, the last garbage collection, "
        "Celery queue depths, the last run of each periodic task and the read-only switches. Read-only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print one JSON document (sizes in bytes, times in ISO 8601; per-day series included).")
        parser.add_argument("--namespaces", type=int, default=10, metavar="N", help="Namespaces listed in the text output, largest first (default 10).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["namespaces"] < 0:
            raise CommandError("--namespaces must be 0 or more")
        data = dashboard()
        if options["json"]:
            self.stdout.write(json.dumps(as_json(data), indent=2))
            return
        self._print(data, options["namespaces"])

    def _print(self, data: Dashboard, namespaces: int) -> None:
        w = self.stdout.write
        t = data.totals
        w("Registry")
        for label, value in (
            ("Repositories", f"{t.repositories:,}"), ("Live tags", f"{t.tags:,}"), ("Manifests", f"{t.manifests:,}"),
            ("Blobs", f"{t.blobs:,}"), ("Stored", f"{size_text(t.bytes)} ({t.bytes:,} bytes)"),
            ("Uploads in progress", f"{t.uploads_in_progress:,} ({size_text(t.upload_bytes_in_progress)})"),
        ):
            w(f"  {label:<22}{value}")
        added = sum(day.values["bytes"] for day in data.growth)
        pushes = sum(day.values["pushes"] for day in data.activity)
        pulls = sum(day.values["pulls"] for day in data.activity)
        w("\nLast 30 days")
        w(f"  {'Added':<22}{size_text(added)} in {sum(day.values['blobs'] for day in data.growth):,} blob(s)")
        w(f"  {'Pushes / pulls':<22}{pushes:,} / {pulls:,}")
        w("\nStorage by namespace")
        if not data.namespaces:
            w("  (no repositories)")
        for ns in data.namespaces[:namespaces]:
            quota = f"  {ns.percent}% of {size_text(ns.quota_bytes)}" if ns.quota_bytes else ""
            w(f"  {ns.name:<30}{size_text(ns.size_bytes):>12}  {ns.repositories:>5} repo(s){quota}")
        if len(data.namespaces) > namespaces:
            w(f"  ... {len(data.namespaces) - namespaces} more (--namespaces N, or --json)")
        w("\nGarbage collection")
        if data.gc.runs:
            run = data.gc.runs[0]
            dry = ", dry run" if run.dry_run else ""
            w(f"  {'Last run':<22}{run.started:%Y-%m-%d %H:%M:%S} {run.status} ({run.get_trigger_display()}{dry}), reclaimed {size_text(run.bytes_reclaimed)}")
        else:
            w(f"  {'Last run':<22}never")
        w(f"  {'30 days':<22}{data.gc.runs_30d} run(s), {size_text(data.gc.bytes_reclaimed_30d)} reclaimed, {data.gc.failed_30d} failed")
        w(f"\nQueues ({data.queues.broker} broker)")
        for name, depth in data.queues.depths.items():
            w(f"  {name:<22}{'unknown' if depth is None else depth}")
        if data.queues.error:
            w(f"  ({data.queues.error})")
        w("\nPeriodic tasks")
        for task in data.periodic:
            last = f"{task.last_started:%Y-%m-%d %H:%M:%S} {task.last_status}" if task.last_started else "never ran"
            w(f"  {task.task:<40}{task.schedule:<22}{last}")
        w("\nVulnerability database")
        w(f"  {data.vulnerability_db.text}")
        ro = data.read_only
        w("\nRead-only mode")
        w(f"  {'Config (registry.read_only)':<30}{'on' if ro.config else 'off'}")
        w(f"  {'Runtime switch (admin)':<30}{'on' if ro.runtime else 'off'}{f' — {ro.reason}' if ro.reason else ''}")
