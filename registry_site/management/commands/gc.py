"""``manage.py gc``: run garbage collection by hand, with progress and a report."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from common.units import size_text
from repositories.models import GcRun, Repository
from repositories.services.gc import GcReport, gc_run


class Command(BaseCommand):
    help = (
        "Run one garbage-collection pass now, online (pushes and pulls may go on). Removes tag history "
        "older than each namespace's time-machine window, manifests nothing references any more (with "
        "their referrers), expired upload links, stale upload sessions, and blobs no repository uses, "
        "with their bytes in every storage location. The Celery beat runs the same pass every 5 minutes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Report what would be deleted; delete nothing.")
        parser.add_argument(
            "--repository", metavar="NAMESPACE/NAME",
            help="Only this repository's tags, manifests and upload links (blobs are shared: the registry-wide pass removes them).",
        )
        parser.add_argument(
            "--now", action="store_true",
            help="Ignore the grace period and the time-machine window: remove everything not referenced at this "
            "moment. Only for a registry nobody is pushing to.",
        )
        parser.add_argument("--json", action="store_true", help="Print the report as JSON on stdout (progress goes to stderr).")
        parser.add_argument("--list", action="store_true", help="Also list the manifests and blobs deleted (or, with --dry-run, to delete).")

    def handle(self, *args: Any, **options: Any) -> None:
        repository = None
        if options["repository"]:
            repository = Repository.objects.filter(full_name=options["repository"]).select_related("namespace").first()
            if repository is None:
                raise CommandError(f"no repository named {options['repository']}")
        quiet = options["json"]
        interactive = sys.stderr.isatty()
        started = time.monotonic()

        def progress(phase: str, examined: int, deleted: int) -> None:
            if quiet and not interactive:
                return
            line = f"  {phase:<10} examined {examined:>9,}   {'would delete' if options['dry_run'] else 'deleted'} {deleted:>9,}"
            self.stderr.write(("\r" + line) if interactive else line, ending="" if interactive else "\n")
            self.stderr.flush()

        if not quiet:
            what = f"repository {repository.full_name}" if repository else "the whole registry"
            mode = "dry run: nothing is deleted" if options["dry_run"] else "online"
            self.stderr.write(f"Garbage collection of {what} ({mode}{', --now' if options['now'] else ''}) ...")
        try:
            report = gc_run(
                repository=repository, dry_run=options["dry_run"], immediate=options["now"],
                trigger=GcRun.Trigger.COMMAND, progress=progress,
            )
        except Exception as exc:  # noqa: BLE001 - reported, non-zero exit
            if interactive:
                self.stderr.write("")
            raise CommandError(f"garbage collection failed: {exc}") from exc
        if interactive:
            self.stderr.write("")
        elapsed = time.monotonic() - started
        if quiet:
            data = {**report.as_dict(), "duration_s": round(elapsed, 3)}
            if options["list"]:
                data.update(manifests=report.deleted_manifests, blobs=report.deleted_blobs)
            self.stdout.write(json.dumps(data, indent=2))
        else:
            self._print(report, elapsed, options)
        if report.errors:
            raise CommandError(f"{len(report.errors)} item(s) could not be deleted; the next run retries them")

    def _print(self, report: GcReport, elapsed: float, options: dict[str, Any]) -> None:
        verb = "Would delete" if report.dry_run else "Deleted"
        rows = [
            ("Tags (history)", report.tags_examined, report.tags_deleted),
            ("Manifests", report.manifests_examined, report.manifests_deleted),
            ("Blobs", report.blobs_examined, report.blobs_deleted),
        ]
        self.stdout.write("")
        self.stdout.write(f"  {'':<16}{'Examined':>12}{verb:>16}")
        for label, examined, deleted in rows:
            self.stdout.write(f"  {label:<16}{examined:>12,}{deleted:>16,}")
        self.stdout.write(f"  {'Upload sessions':<16}{'':>12}{report.uploads_deleted:>16,}")
        reclaimed = "Space to reclaim" if report.dry_run else "Space reclaimed"
        self.stdout.write(f"\n  {reclaimed}: {size_text(report.bytes_reclaimed)}   ({elapsed:.1f} s)")
        if options["list"]:
            for entry in report.deleted_manifests:
                self.stdout.write(f"  manifest {entry.split(':', 1)[1]}")
            for digest in report.deleted_blobs:
                self.stdout.write(f"  blob     {digest}")
        for error in report.errors[:20]:
            self.stderr.write(self.style.WARNING(f"  ! {error}"))
        style = self.style.SUCCESS if not report.errors else self.style.WARNING
        self.stdout.write(style("\nDry run: nothing was deleted." if report.dry_run else "\nDone."))
