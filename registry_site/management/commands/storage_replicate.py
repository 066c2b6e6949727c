"""``manage.py storage_replicate``: copy blobs to the locations that lack them, with progress."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from common.errors import NotFoundError
from repositories.selectors_storage import blobs_without_placement_count, configured_locations
from common.units import size_text
from repositories.services.storage import GIVE_UP_AFTER, CopyOutcome, blobs_replicate_missing


class Command(BaseCommand):
    help = (
        "Copy every blob that a storage location lacks from a location that holds it (streamed, digest "
        "verified while copying), and record the new placement. Without --location, every configured "
        "location gets every blob (what storage.replicate_to_all does in the background). Exits non-zero "
        "when a copy failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--location", metavar="NAME", help="Only copy into this location.")
        parser.add_argument("--dry-run", action="store_true", help="List what would be copied; copy nothing.")
        parser.add_argument("--json", action="store_true", help="Print the report as JSON on stdout (progress goes to stderr).")

    def handle(self, *args: Any, **options: Any) -> None:
        quiet = options["json"]
        interactive = sys.stderr.isatty()
        targets = [options["location"]] if options["location"] else configured_locations()
        if not quiet:
            mode = " (dry run: nothing is copied)" if options["dry_run"] else ""
            self.stderr.write(f"Replicating blobs into {', '.join(targets)}{mode} ...")

        def progress(done: int, total: int, outcomes: list[CopyOutcome]) -> None:
            for outcome in outcomes:
                if outcome.status == "failed":
                    if interactive:
                        self.stderr.write("")
                    self.stderr.write(self.style.WARNING(f"  ! {outcome.digest} -> {outcome.location}: {outcome.error}"))
            if quiet and not interactive:
                return
            line = f"  blobs {done:>9,} / {total:,}"
            self.stderr.write(("\r" + line) if interactive else line, ending="" if interactive else "\n")
            self.stderr.flush()

        started = time.monotonic()
        try:
            report = blobs_replicate_missing(location=options["location"], dry_run=options["dry_run"], progress=progress)
        except NotFoundError as exc:
            raise CommandError(f"{exc.message}; configured: {', '.join(exc.detail['configured'])}") from exc
        if interactive:
            self.stderr.write("")
        elapsed = time.monotonic() - started
        lost = blobs_without_placement_count()
        if quiet:
            self.stdout.write(json.dumps({**report.as_dict(), "blobs_without_placement": lost, "duration_s": round(elapsed, 3)}, indent=2))
        else:
            self.stdout.write("")
            self.stdout.write(f"  Blobs examined   {report.blobs_examined:>10,}")
            if report.dry_run:
                self.stdout.write(f"  Copies to make   {report.planned:>10,}")
            else:
                self.stdout.write(f"  Copies made      {report.copied:>10,}   ({size_text(report.bytes_copied)} in {elapsed:.1f} s)")
            self.stdout.write(f"  Copies failed    {len(report.failures):>10,}")
            for name in report.skipped_locations:
                self.stdout.write(self.style.WARNING(f"  {name}: every copy failed; skipped after {GIVE_UP_AFTER} failures in a row"))
            if lost:
                self.stdout.write(self.style.WARNING(f"  {lost:,} blob(s) have no recorded location at all and cannot be copied"))
            style = self.style.SUCCESS if not report.failures else self.style.WARNING
            self.stdout.write(style("\nDry run: nothing was copied." if report.dry_run else "\nDone."))
        if report.failures or report.skipped_locations:
            raise CommandError(f"{len(report.failures)} copy(ies) failed; run again when the locations answer")
